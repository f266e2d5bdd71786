import { Annotations, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { type PulsarEndpoint, validateAdminUrl, validateServiceUrl } from "./pulsar-endpoint.ts";

export interface ManagedPulsarProps {
  /** The provider's binary-protocol URL, e.g. `pulsar+ssl://abc.streamnative.example:6651`. */
  readonly serviceUrl: string;
  /** The provider's admin REST URL, e.g. `https://abc.streamnative.example`. */
  readonly adminUrl: string;
  /**
   * Complete ARN of an existing secret holding the admin token the provider issued.
   * @default a new secret named `secretName` holding a random placeholder; put the real token
   * into it after the first deploy (`aws secretsmanager put-secret-value`)
   */
  readonly tokenSecretArn?: string;
  /**
   * Name of the secret created when `tokenSecret` is not given.
   * @default "surplus/pulsar-admin-token"
   */
  readonly secretName?: string;
  /**
   * Accept `pulsar://` and `http://` URLs (a provider reached over a private link only).
   * @default false
   */
  readonly allowPlaintext?: boolean;
}

/**
 * Option (a): an existing managed Pulsar service. Nothing runs in the account; the construct
 * records the provider's URLs and keeps its admin token in Secrets Manager.
 */
export class ManagedPulsar extends Construct implements PulsarEndpoint {
  readonly serviceUrl: string;
  readonly adminUrl: string;
  readonly tokenSecret: secretsmanager.ISecret;
  readonly tokenSecretId: string;

  constructor(scope: Construct, id: string, props: ManagedPulsarProps) {
    super(scope, id);
    const allowPlaintext = props.allowPlaintext ?? false;
    validateServiceUrl("ManagedPulsar", props.serviceUrl, allowPlaintext);
    validateAdminUrl("ManagedPulsar", props.adminUrl, allowPlaintext);
    this.serviceUrl = props.serviceUrl;
    this.adminUrl = props.adminUrl;
    if (/\.invalid(:\d+)?(\/|$)/.test(props.serviceUrl) || /\.invalid(:\d+)?(\/|$)/.test(props.adminUrl)) {
      Annotations.of(this).addWarningV2(
        "surplus:placeholder-pulsar",
        "The Pulsar URLs are cdk.json's placeholders (*.invalid): set surplus:pulsarServiceUrl and surplus:pulsarAdminUrl before deploying.",
      );
    }
    if (props.tokenSecretArn !== undefined) {
      this.tokenSecret = secretsmanager.Secret.fromSecretCompleteArn(
        this,
        "AdminToken",
        props.tokenSecretArn,
      );
      this.tokenSecretId = props.tokenSecretArn;
    } else {
      this.tokenSecretId = props.secretName ?? "surplus/pulsar-admin-token";
      const secret = new secretsmanager.Secret(this, "AdminToken", {
        secretName: this.tokenSecretId,
        description:
          "Admin token (JWT) of the managed Pulsar service; replace the placeholder with the provider's token",
        // A random placeholder, never a usable token: the functions fail to authenticate until the
        // operator puts the real one, rather than running with a guessable value.
        generateSecretString: { passwordLength: 32, excludePunctuation: true },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(secret).acknowledge({
        id: "AwsSolutions-SMG4",
        reason:
          "The token is issued by the Pulsar provider; Secrets Manager cannot rotate it without the provider's API. Rotate by putting the provider's new token (README, For a city operator).",
      });
      this.tokenSecret = secret;
    }
  }
}
