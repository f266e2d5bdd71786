// A service that misbehaves on some inputs only: traps when the input's first byte is 0xfe, loops
// forever when it is 0xff, and echoes every other input.
import { output } from "../../services/abi";

export { alloc_input } from "../../services/abi";
export function process(ptr: usize, len: u32): u64 {
  if (len > 0 && load<u8>(ptr) == 0xfe) unreachable();
  if (len > 0 && load<u8>(ptr) == 0xff) {
    let i: u32 = 0;
    while (true) i++;
  }
  return output(ptr, len);
}
