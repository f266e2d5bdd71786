// The one-command local market. Until the end-to-end issue lands this only says so.
console.log(
  [
    "Surplus local market",
    "",
    "The end-to-end market (Pulsar + DynamoDB Local + Hardhat node + allocator + verifier-bridge +",
    "edge agents) is not assembled yet. What exists today is listed in README.md; run",
    "`./surplus test` to exercise it.",
  ].join("\n"),
);
