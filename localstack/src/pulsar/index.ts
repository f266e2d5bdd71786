// A real Apache Pulsar standalone broker for development and tests, without Docker:
// the broker's jars come from Maven Central (localstack/pulsar/pom.xml, resolved once into
// ~/.m2), and run on a JDK ≥ 21 from the machine. Token authentication and authorization are
// on, topics are never created automatically, everything listens on 127.0.0.1 and all state
// lives under .data/pulsar. The command line is cli.ts; the vitest global setup is test-setup.ts.
//
// Environment: SURPLUS_PULSAR_DATA_DIR, SURPLUS_PULSAR_WEB_PORT (8080), SURPLUS_PULSAR_BROKER_PORT
// (6650), SURPLUS_PULSAR_WEB_TLS_PORT (8443), SURPLUS_JAVA_HOME / JAVA_HOME, SURPLUS_PULSAR_KEEP
// (leave a test-started broker running).
export { type ClasspathProfile, resolveClasspath } from "./classpath.ts";
export { renderConfig } from "./config.ts";
export { tlsCertificate, tokenSecret } from "./credentials.ts";
export { findJava, type JavaRuntime, JVM_FLAGS } from "./java.ts";
export {
  PULSAR_CONF_DIR,
  type PulsarConnectionInfo,
  type PulsarLocal,
  PulsarLocalError,
  type PulsarLocalOptions,
  ROOT,
} from "./options.ts";
export { pulsarInfo, startPulsar, stopPulsar } from "./process.ts";
