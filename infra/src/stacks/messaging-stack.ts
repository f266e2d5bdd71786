import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { ManagedPulsar, type ManagedPulsarProps } from "../constructs/managed-pulsar.ts";
import type { PulsarConnection, PulsarEndpoint } from "../constructs/pulsar-endpoint.ts";
import { SelfHostedPulsar, type SelfHostedPulsarProps } from "../constructs/self-hosted-pulsar.ts";

/** Which Pulsar the market uses: an existing managed service, or one this stack runs. */
export type PulsarChoice =
  | ({ readonly mode: "managed" } & ManagedPulsarProps)
  | ({ readonly mode: "self-hosted" } & SelfHostedPulsarProps);

export interface MessagingStackProps extends StackProps {
  /** The Pulsar endpoint to provide (see `ManagedPulsar` and `SelfHostedPulsar` for their defaults). */
  readonly pulsar: PulsarChoice;
}

/** The Pulsar endpoint the market uses; outputs its URLs and the admin token's secret. */
export class MessagingStack extends Stack {
  readonly endpoint: PulsarEndpoint;
  /** What the functions need to connect, as plain values (no cross-stack export). */
  readonly connection: PulsarConnection;

  constructor(scope: Construct, id: string, props: MessagingStackProps) {
    super(scope, id, props);
    const { pulsar } = props;
    if (pulsar.mode === "managed") {
      this.endpoint = new ManagedPulsar(this, "Pulsar", pulsar);
    } else {
      const selfHosted = new SelfHostedPulsar(this, "Pulsar", pulsar);
      new CfnOutput(this, "LoadBalancerDnsName", {
        description: `Point ${pulsar.domainName} (CNAME or alias) at this name`,
        value: selfHosted.loadBalancer.loadBalancerDnsName,
      });
      new CfnOutput(this, "TokenSigningKeySecretArn", {
        description: "HMAC key to mint Pulsar tokens with (infra/scripts/pulsar-token.ts)",
        value: selfHosted.signingKey.secretArn,
      });
      this.endpoint = selfHosted;
    }
    this.connection = {
      serviceUrl: this.endpoint.serviceUrl,
      adminUrl: this.endpoint.adminUrl,
      tokenSecretId: this.endpoint.tokenSecretId,
    };
    if (this.endpoint.serviceUrl !== undefined) {
      new CfnOutput(this, "PulsarServiceUrl", { value: this.endpoint.serviceUrl });
    }
    new CfnOutput(this, "PulsarAdminUrl", { value: this.endpoint.adminUrl });
    new CfnOutput(this, "PulsarTokenSecretArn", { value: this.endpoint.tokenSecret.secretArn });
  }
}
