// Progress lines for the local market: elapsed time, who, what.
const started = Date.now();
const colours: Record<string, string> = {
  market: "1;36",
  allocator: "35",
  bridge: "34",
  customer: "32",
  supplier: "33",
  mediator: "36",
  chain: "90",
};

export function say(who: string, what: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  const c = colours[who.split(" ")[0]!] ?? "0";
  const tty = process.stdout.isTTY;
  const tag = tty ? `\u001b[${c}m${who.padEnd(12)}\u001b[0m` : who.padEnd(12);
  console.log(`${t}s  ${tag} ${what}`);
}

export const short = (hex: string) => `${hex.slice(0, 8)}…`;
