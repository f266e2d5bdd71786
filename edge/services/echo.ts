// Returns its input: the trivial service of the benchmarks.
import { output } from "./abi";

export { alloc_input } from "./abi";

export function process(ptr: usize, len: u32): u64 {
  return output(ptr, len);
}
