// Counts people-sized bright blobs in a grayscale frame (the paper's occupancy workload).
import { output } from "./abi";

export { alloc_input } from "./abi";

const THRESHOLD: u8 = 128;
const MIN_AREA: i32 = 4;
const MALFORMED: u32 = 0xffffffff;

export function process(ptr: usize, len: u32): u64 {
  const out = heap.alloc(4);
  if (len < 4) {
    store<u32>(out, MALFORMED);
    return output(out, 4);
  }
  const w = <i32>load<u16>(ptr);
  const h = <i32>load<u16>(ptr + 2);
  const n = w * h;
  if (<u32>n + 4 > len) {
    store<u32>(out, MALFORMED);
    return output(out, 4);
  }
  const pixels = ptr + 4;
  const visited = heap.alloc(<usize>n);
  memory.fill(visited, 0, <usize>n);
  const stack = heap.alloc((<usize>n) << 2);
  let count: u32 = 0;
  for (let start = 0; start < n; start++) {
    if (load<u8>(visited + start) != 0 || load<u8>(pixels + start) < THRESHOLD) continue;
    // Iterative flood fill over 4-neighbours.
    let top = 0;
    let area = 0;
    store<i32>(stack, start);
    top = 1;
    store<u8>(visited + start, 1);
    while (top > 0) {
      top--;
      const p = load<i32>(stack + ((<usize>top) << 2));
      area++;
      const x = p % w;
      const y = p / w;
      if (x > 0) top = visit(pixels, visited, stack, top, p - 1);
      if (x < w - 1) top = visit(pixels, visited, stack, top, p + 1);
      if (y > 0) top = visit(pixels, visited, stack, top, p - w);
      if (y < h - 1) top = visit(pixels, visited, stack, top, p + w);
    }
    if (area >= MIN_AREA) count++;
  }
  store<u32>(out, count);
  return output(out, 4);
}

function visit(pixels: usize, visited: usize, stack: usize, top: i32, q: i32): i32 {
  if (load<u8>(visited + q) == 0 && load<u8>(pixels + q) >= THRESHOLD) {
    store<u8>(visited + q, 1);
    store<i32>(stack + ((<usize>top) << 2), q);
    return top + 1;
  }
  return top;
}
