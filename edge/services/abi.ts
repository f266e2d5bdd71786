// The service ABI, shared by every example service (AssemblyScript, `--runtime stub`):
//   alloc_input(len: u32) -> ptr     resets the heap (statelessness) and returns room for the input
//   process(ptr: u32, len: u32) -> u64   (outPtr << 32) | outLen
// Memory is imported (env.memory) so the host sets its cap; the only other import is env.abort.

export function alloc_input(len: u32): usize {
  heap.reset();
  return heap.alloc(len);
}

export function output(ptr: usize, len: u32): u64 {
  return ((<u64>ptr) << 32) | <u64>len;
}
