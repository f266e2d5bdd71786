import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as efs from "aws-cdk-lib/aws-efs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { SurplusConfigError } from "../errors.ts";
import type { PulsarEndpoint } from "./pulsar-endpoint.ts";

export interface SelfHostedPulsarProps {
  /**
   * DNS name clients connect to; the certificate must cover it and the operator points it
   * (CNAME or alias) at the load balancer's DNS name, which the stack outputs.
   */
  readonly domainName: string;
  /** ARN of an ACM certificate for `domainName` in the stack's region (TLS ends at the load balancer). */
  readonly certificateArn: string;
  /**
   * Network to run in.
   * @default a new VPC over 2 AZs with public subnets only and no NAT gateway (the task gets a
   * public IP to pull its image; its security group admits only the load balancer)
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Fargate vCPU units for the broker (standalone: broker, BookKeeper and metadata store in one JVM).
   * One of 1024, 2048, 4096, 8192, 16384.
   * @default 2048
   */
  readonly cpu?: number;
  /**
   * Memory in MiB; must be valid for `cpu` on Fargate. Half goes to the JVM heap, a quarter to
   * direct memory.
   * @default 8192
   */
  readonly memoryMiB?: number;
  /**
   * Container image.
   * @default "apachepulsar/pulsar:4.0.7" (the version the local stack runs)
   */
  readonly image?: string;
  /**
   * CIDR ranges admitted to the TLS listener (edge devices connect from anywhere by default;
   * every connection still needs a token).
   * @default ["0.0.0.0/0"]
   */
  readonly allowedCidrs?: readonly string[];
  /**
   * What happens to the broker's storage (EFS: ledgers and metadata) when removed.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Name of the secret created for the admin token, which the operator fills once after deploy
   * with a token minted from the signing key (`infra/scripts/pulsar-token.ts`).
   * @default "surplus/pulsar-admin-token"
   */
  readonly tokenSecretName?: string;
}

/** The broker's ports and the load balancer's TLS port in front of the web service. */
export const PULSAR_PORTS = {
  /** Broker binary protocol, inside the VPC only (the load balancer's health check). */
  service: 6650,
  adminTls: 8443,
  admin: 8080,
} as const;

/** Fargate's valid memory sizes (MiB) per vCPU unit count. */
const FARGATE_MEMORY: Readonly<Record<number, readonly [min: number, max: number, step: number]>> = {
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/**
 * Option (b): a Pulsar the stack runs itself, for cities with no provider — one standalone
 * broker on ECS Fargate with its ledgers and metadata on encrypted EFS (durable across task
 * restarts and AZ failures), behind an internet-facing Network Load Balancer that ends TLS on
 * 8443 for the web service (WebSocket and admin REST, what the market's clients use). Token
 * authentication and authorization are on, topics are created explicitly, deduplication is on
 * (the settings of the local broker, localstack/pulsar/standalone.conf);
 * the HMAC signing key is generated into Secrets Manager and never leaves AWS.
 *
 * One broker is a single point of failure (minutes of downtime while ECS replaces it; no data
 * lost). A city that outgrows it should move to a managed service or a multi-node cluster.
 */
export class SelfHostedPulsar extends Construct implements PulsarEndpoint {
  /**
   * Undefined: the load balancer offers only the web service. A native binary client behind a
   * TLS-ending load balancer would be redirected by topic lookup to the broker's own plaintext
   * address, so the binary port is not published; the market's clients use WebSocket.
   */
  readonly serviceUrl: undefined;
  readonly adminUrl: string;
  readonly tokenSecret: secretsmanager.ISecret;
  readonly tokenSecretId: string;
  /** The HMAC key the broker validates tokens with (raw bytes of the secret string). */
  readonly signingKey: secretsmanager.ISecret;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly service: ecs.FargateService;
  readonly fileSystem: efs.FileSystem;

  constructor(scope: Construct, id: string, props: SelfHostedPulsarProps) {
    super(scope, id);
    const cpu = props.cpu ?? 2048;
    const memoryMiB = props.memoryMiB ?? 8192;
    const sizes = FARGATE_MEMORY[cpu];
    if (!sizes) {
      throw new SurplusConfigError(
        `SelfHostedPulsar: cpu must be one of ${Object.keys(FARGATE_MEMORY).join(", ")}, got ${cpu}`,
      );
    }
    const [minMemory, maxMemory, step] = sizes;
    if (memoryMiB < minMemory || memoryMiB > maxMemory || memoryMiB % step !== 0) {
      throw new SurplusConfigError(
        `SelfHostedPulsar: memoryMiB for cpu ${cpu} must be ${minMemory}..${maxMemory} in steps of ${step}, got ${memoryMiB}`,
      );
    }
    if (!DOMAIN.test(props.domainName)) {
      throw new SurplusConfigError(`SelfHostedPulsar: domainName is not a DNS name: "${props.domainName}"`);
    }
    if (!ACM_ARN.test(props.certificateArn)) {
      throw new SurplusConfigError(
        `SelfHostedPulsar: certificateArn must be an ACM certificate ARN, got "${props.certificateArn}"`,
      );
    }
    const allowedCidrs = props.allowedCidrs ?? ["0.0.0.0/0"];
    if (allowedCidrs.length === 0) throw new SurplusConfigError("SelfHostedPulsar: allowedCidrs is empty");
    for (const cidr of allowedCidrs) {
      if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr)) {
        throw new SurplusConfigError(`SelfHostedPulsar: "${cidr}" is not an IPv4 CIDR`);
      }
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const vpc =
      props.vpc ??
      new ec2.Vpc(this, "Vpc", {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
        flowLogs: {
          rejected: {
            trafficType: ec2.FlowLogTrafficType.REJECT,
            destination: ec2.FlowLogDestination.toCloudWatchLogs(
              new logs.LogGroup(this, "FlowLogs", {
                retention: logs.RetentionDays.ONE_MONTH,
                removalPolicy: RemovalPolicy.DESTROY,
              }),
            ),
          },
        },
      });

    this.fileSystem = new efs.FileSystem(this, "Storage", {
      vpc,
      vpcSubnets: { subnetType: props.vpc ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC },
      encrypted: true,
      enableAutomaticBackups: true,
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      throughputMode: efs.ThroughputMode.ELASTIC,
      removalPolicy,
    });
    const accessPoint = this.fileSystem.addAccessPoint("Data", {
      path: "/pulsar",
      // The image runs as uid 10000.
      createAcl: { ownerUid: "10000", ownerGid: "0", permissions: "750" },
      posixUser: { uid: "10000", gid: "0" },
    });

    this.signingKey = new secretsmanager.Secret(this, "TokenSigningKey", {
      description: "HMAC key the self-run Pulsar broker validates tokens with",
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.tokenSecretId = props.tokenSecretName ?? "surplus/pulsar-admin-token";
    this.tokenSecret = new secretsmanager.Secret(this, "AdminToken", {
      secretName: this.tokenSecretId,
      description:
        "Admin token (JWT, subject admin) for the self-run Pulsar; mint it with infra/scripts/pulsar-token.ts",
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.signingKey).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Rotating the HMAC key invalidates every token issued to participants at once; it is rotated by a planned re-key (README), not on a timer.",
    });
    Validations.of(this.tokenSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The admin token is a JWT minted from the signing key (infra/scripts/pulsar-token.ts); Secrets Manager cannot mint one, so it is replaced by minting and putting a new token (README).",
    });

    const cluster = new ecs.Cluster(this, "Cluster", {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, "Task", {
      cpu,
      memoryLimitMiB: memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      volumes: [
        {
          name: "data",
          efsVolumeConfiguration: {
            fileSystemId: this.fileSystem.fileSystemId,
            transitEncryption: "ENABLED",
            authorizationConfig: { accessPointId: accessPoint.accessPointId, iam: "ENABLED" },
          },
        },
      ],
    });
    this.fileSystem.grantReadWrite(taskDefinition.taskRole);
    const heapMiB = Math.floor(memoryMiB / 2);
    const directMiB = Math.floor(memoryMiB / 4);
    const container = taskDefinition.addContainer("broker", {
      image: ecs.ContainerImage.fromRegistry(props.image ?? "apachepulsar/pulsar:4.0.7"),
      entryPoint: ["sh", "-c"],
      // Sizes the JVM, writes the signing key where the broker reads it, mints the broker's own admin token
      // from it, turns on token authentication and authorization, and starts standalone.
      command: [
        [
          "set -e",
          `export PULSAR_MEM="-Xms${heapMiB}m -Xmx${heapMiB}m -XX:MaxDirectMemorySize=${directMiB}m"`,
          'printf %s "$TOKEN_SIGNING_KEY" > /tmp/token.key',
          "ADMIN_TOKEN=$(bin/pulsar tokens create --secret-key file:///tmp/token.key --subject admin)",
          "export PULSAR_PREFIX_authenticationEnabled=true PULSAR_PREFIX_authorizationEnabled=true",
          "export PULSAR_PREFIX_authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken",
          "export PULSAR_PREFIX_tokenSecretKey=file:///tmp/token.key PULSAR_PREFIX_superUserRoles=admin PULSAR_PREFIX_tokenAuthClaim=sub",
          "export PULSAR_PREFIX_webSocketServiceEnabled=true PULSAR_PREFIX_allowAutoTopicCreation=false PULSAR_PREFIX_brokerDeduplicationEnabled=true",
          "export PULSAR_PREFIX_brokerDeleteInactiveTopicsEnabled=false PULSAR_PREFIX_defaultRetentionTimeInMinutes=10080 PULSAR_PREFIX_defaultRetentionSizeInMB=1024",
          "export PULSAR_PREFIX_brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken",
          'export PULSAR_PREFIX_brokerClientAuthenticationParameters="token:$ADMIN_TOKEN"',
          "bin/apply-config-from-env.py conf/standalone.conf",
          "exec bin/pulsar standalone --no-functions-worker",
        ].join(" && "),
      ],
      secrets: { TOKEN_SIGNING_KEY: ecs.Secret.fromSecretsManager(this.signingKey) },
      portMappings: [
        { containerPort: PULSAR_PORTS.service, protocol: ecs.Protocol.TCP },
        { containerPort: PULSAR_PORTS.admin, protocol: ecs.Protocol.TCP },
      ],
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: "pulsar",
        logGroup: new logs.LogGroup(this, "Logs", {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      }),
    });
    container.addMountPoints({ containerPath: "/pulsar/data", sourceVolume: "data", readOnly: false });

    const serviceSecurityGroup = new ec2.SecurityGroup(this, "BrokerSecurityGroup", {
      vpc,
      description: "Pulsar broker: only the load balancer reaches it",
      allowAllOutbound: true,
    });
    this.service = new ecs.FargateService(this, "Service", {
      cluster,
      taskDefinition,
      desiredCount: 1,
      // Standalone keeps its ledgers and metadata on the shared volume: never two copies at once.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      assignPublicIp: props.vpc === undefined,
      vpcSubnets: { subnetType: props.vpc ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC },
      securityGroups: [serviceSecurityGroup],
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.minutes(3),
    });
    this.fileSystem.connections.allowDefaultPortFrom(serviceSecurityGroup, "Pulsar broker mounts its data");

    const lbSecurityGroup = new ec2.SecurityGroup(this, "LoadBalancerSecurityGroup", {
      vpc,
      description: "Pulsar web service (TLS)",
      allowAllOutbound: false,
    });
    for (const cidr of allowedCidrs) {
      lbSecurityGroup.addIngressRule(
        ec2.Peer.ipv4(cidr),
        ec2.Port.tcp(PULSAR_PORTS.adminTls),
        `Pulsar web service (TLS) ${PULSAR_PORTS.adminTls}`,
      );
    }
    for (const port of [PULSAR_PORTS.service, PULSAR_PORTS.admin]) {
      lbSecurityGroup.addEgressRule(serviceSecurityGroup, ec2.Port.tcp(port), `to broker ${port}`);
      serviceSecurityGroup.addIngressRule(lbSecurityGroup, ec2.Port.tcp(port), `from load balancer ${port}`);
    }
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, "LoadBalancer", {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [lbSecurityGroup],
    });
    const certificate = elbv2.ListenerCertificate.fromArn(props.certificateArn);
    for (const [listenerPort, containerPort] of [[PULSAR_PORTS.adminTls, PULSAR_PORTS.admin]] as const) {
      const listener = this.loadBalancer.addListener(`Tls${listenerPort}`, {
        port: listenerPort,
        protocol: elbv2.Protocol.TLS,
        certificates: [certificate],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      });
      listener.addTargets(`Broker${containerPort}`, {
        port: containerPort,
        protocol: elbv2.Protocol.TCP,
        targets: [this.service.loadBalancerTarget({ containerName: container.containerName, containerPort })],
        healthCheck: { protocol: elbv2.Protocol.TCP, port: String(PULSAR_PORTS.service) },
        deregistrationDelay: Duration.seconds(30),
      });
    }

    this.serviceUrl = undefined;
    this.adminUrl = `https://${props.domainName}:${PULSAR_PORTS.adminTls}`;

    Validations.of(this.loadBalancer).acknowledge({
      id: "AwsSolutions-ELB2",
      reason:
        "NLB access logs record TLS handshakes only and need an S3 bucket; the broker logs every connection and its principal to CloudWatch.",
    });
    if (allowedCidrs.includes("0.0.0.0/0")) {
      Validations.of(lbSecurityGroup).acknowledge({
        id: "AwsSolutions-EC23",
        reason:
          "The load balancer admits the configured CIDRs (by default everyone: edge devices connect from anywhere) on the TLS ports only; every connection needs a token.",
      });
    }
  }
}
