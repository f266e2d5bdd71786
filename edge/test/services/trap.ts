// A service that traps on every input.
export { alloc_input } from "../../services/abi";
export function process(ptr: usize, len: u32): u64 {
  unreachable();
  return 0;
}
