package hostagent;

import java.lang.instrument.Instrumentation;

/**
 * Stand-in for LocalStack's "ddb-local-loader" agent.
 *
 * LocalStack always starts DynamoDB Local with -javaagent:ddb-local-loader-0.1.jar; when that jar is
 * missing the JVM refuses to start and LocalStack restarts it in a tight loop. LocalStack's own agent
 * patches DynamoDB Local to allow more than 20 GSIs per table; this one changes nothing.
 */
public final class LoaderAgent {
    private LoaderAgent() {
    }

    public static void premain(String args, Instrumentation instrumentation) {
        // Intentionally empty: the agent only has to exist and load.
    }
}
