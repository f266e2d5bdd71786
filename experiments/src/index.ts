// @surplus/experiments — the strategy experiments of paper §5.2 (Fig. 5, Fig. 6, eq. 4–6).
export * from "./analysis.ts";
export * from "./market.ts";
export * from "./parameters.ts";
export * from "./random.ts";
export * from "./report.ts";
export * from "./settlement.ts";
export * from "./simulate.ts";
export * from "./strategies.ts";
export * from "./svg.ts";
