// A service that reads the clock: the sandbox must refuse to load it.
import { output } from "../../services/abi";

export { alloc_input } from "../../services/abi";
export function process(ptr: usize, len: u32): u64 {
  store<f64>(ptr, <f64>Date.now());
  return output(ptr, 8);
}
