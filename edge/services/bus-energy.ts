// Energy a bus uses over one telemetry interval, from a longitudinal vehicle model
// (tractive force = inertia + grade + rolling resistance + aerodynamic drag).
import { output } from "./abi";

export { alloc_input } from "./abi";

const G: f64 = 9.81; // m/s²
const AIR_DENSITY: f64 = 1.2; // kg/m³
const DRAG_AREA: f64 = 6.5; // Cd·A of a 12 m bus, m²
const ROLLING: f64 = 0.008; // rolling-resistance coefficient
const DRIVE_EFFICIENCY: f64 = 0.85;
const REGEN_EFFICIENCY: f64 = 0.6;

export function process(ptr: usize, len: u32): u64 {
  const out = heap.alloc(8);
  if (len < 40) {
    store<f64>(out, NaN);
    return output(out, 8);
  }
  const speed = load<f64>(ptr);
  const accel = load<f64>(ptr + 8);
  const grade = load<f64>(ptr + 16);
  const mass = load<f64>(ptr + 24);
  const dt = load<f64>(ptr + 32);
  const force =
    mass * accel +
    mass * G * Math.sin(grade) +
    ROLLING * mass * G * Math.cos(grade) +
    0.5 * AIR_DENSITY * DRAG_AREA * speed * speed;
  const power = force * speed; // W
  const electrical = power >= 0 ? power / DRIVE_EFFICIENCY : power * REGEN_EFFICIENCY;
  store<f64>(out, (electrical * dt) / 3.6e6);
  return output(out, 8);
}
