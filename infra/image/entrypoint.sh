#!/bin/sh
# Entrypoint of the project's image.
#
#   rwa-entrypoint executor     a Spark executor: Spark on Kubernetes starts its executor pods
#                               from this image with the single argument `executor` and the
#                               SPARK_* variables below (as Spark's own image's entrypoint does)
#   rwa-entrypoint ARGS...      `rwa ARGS...` (the API, the lander, the alert worker, jobs)
#   rwa-entrypoint -- CMD...    CMD as given (dagster-webserver, dagster-daemon, spark-submit)
set -eu

case "${1:-}" in
executor)
    shift
    # SPARK_JAVA_OPT_0..N carry the driver's executor JVM options.
    set -- $(env | sed -n 's/^SPARK_JAVA_OPT_[0-9]*=//p')
    exec "$JAVA_HOME/bin/java" "$@" \
        -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
        -cp "$SPARK_HOME/conf:$SPARK_HOME/jars/*${SPARK_DIST_CLASSPATH:+:$SPARK_DIST_CLASSPATH}" \
        org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
        --driver-url "$SPARK_DRIVER_URL" \
        --executor-id "$SPARK_EXECUTOR_ID" \
        --cores "$SPARK_EXECUTOR_CORES" \
        --app-id "$SPARK_APPLICATION_ID" \
        --hostname "$SPARK_EXECUTOR_POD_IP" \
        --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
        --podName "$SPARK_EXECUTOR_POD_NAME"
    ;;
--)
    shift
    exec "$@"
    ;;
*)
    exec /opt/rwa/bin/rwa "$@"
    ;;
esac
