// The CDK app `cdk.json` runs (`node infra/bin/app.ts`): the market's three stacks, configured
// by the `surplus:*` context values (README, "For a city operator"). cdk-nag's AwsSolutions pack
// runs during synth; an unsuppressed finding fails it.
import { App } from "aws-cdk-lib";
import { addSurplusStacks } from "../src/surplus-app.ts";

const app = new App();
const account = process.env["CDK_DEFAULT_ACCOUNT"];
const region = process.env["CDK_DEFAULT_REGION"];
addSurplusStacks(app, account && region ? { env: { account, region } } : {});
app.synth();
