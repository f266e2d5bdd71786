// Starts DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDB Local's own ServerRunner has no listen-address option and binds every interface; this
// launcher builds the same server from the same command-line flags, sets the host of its Jetty
// connectors to the loopback address before starting it, and prints one line
// ("DynamoDB Local listening on http://127.0.0.1:<port>") once it accepts connections.
// Run with Java's single-file source launcher (JDK 11+), e.g.:
//   java -Djava.library.path=LIB -cp 'LIB/*' LoopbackServerRunner.java -inMemory -port 8000 -disableTelemetry
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackServerRunner {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("surplus.dynamodb.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    if (proxy == null) System.exit(2); // -help or invalid flags: ServerRunner already printed why.
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    Connector[] connectors = jetty.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local created no connector");
    for (Connector connector : connectors) {
      if (!(connector instanceof ServerConnector sc)) {
        throw new IllegalStateException("unexpected connector " + connector.getClass().getName());
      }
      sc.setHost(host);
    }
    proxy.safeStart();
    int port = ((ServerConnector) connectors[0]).getLocalPort();
    System.out.println("DynamoDB Local listening on http://" + host + ":" + port);
    System.out.flush();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        proxy.stop();
      } catch (Exception e) {
        System.err.println("DynamoDB Local did not stop cleanly: " + e);
      }
    }));
    proxy.join();
  }
}
