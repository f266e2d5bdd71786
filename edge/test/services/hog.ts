// A service that allocates until memory runs out.
export { alloc_input } from "../../services/abi";
export function process(ptr: usize, len: u32): u64 {
  while (true) heap.alloc(1 << 20);
  return 0;
}
