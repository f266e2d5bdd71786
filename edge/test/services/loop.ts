// A service that loops forever when the input's first byte is 0xff, and echoes otherwise.
import { output } from "../../services/abi";

export { alloc_input } from "../../services/abi";
export function process(ptr: usize, len: u32): u64 {
  if (len > 0 && load<u8>(ptr) == 0xff) {
    let i: u32 = 0;
    while (true) i++;
  }
  return output(ptr, len);
}
