# --- What the application reads ----------------------------------------------------------------

output "rwa_settings" {
  description = "Plain (non-secret) RWA_ settings for workloads in this environment. Leave RWA_S3_ENDPOINT_URL, RWA_AWS_ACCESS_KEY_ID and RWA_AWS_SECRET_ACCESS_KEY unset on AWS: the workload role supplies credentials."
  value = {
    RWA_LAKE_ROOT       = module.lake.lake_root
    RWA_AWS_REGION      = var.aws_region
    RWA_SERVING_BACKEND = "timescaledb"
  }
}

output "rwa_secret_settings" {
  description = "RWA_ settings whose value lives in Secrets Manager: setting name => secret ARN (inject with ECS task secrets, the Secrets Store CSI driver or External Secrets)."
  value = {
    RWA_TIMESCALE_DSN = module.secrets.timescale_dsn_secret_arn
  }
}

output "delta_rs_environment" {
  description = "Environment for delta-rs (read by its S3 client directly): DynamoDB-coordinated commits make concurrent Delta writers on S3 safe."
  value = {
    AWS_S3_LOCKING_PROVIDER = "dynamodb"
    DELTA_DYNAMO_TABLE_NAME = module.lake.delta_lock_table
  }
}

output "delta_spark_conf" {
  description = "Spark configuration for the native delta-spark path on production clusters (S3DynamoDBLogStore on the same lock table)."
  value = {
    "spark.delta.logStore.s3.impl"                            = "io.delta.storage.S3DynamoDBLogStore"
    "spark.delta.logStore.s3a.impl"                           = "io.delta.storage.S3DynamoDBLogStore"
    "spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName" = module.lake.delta_lock_table
    "spark.io.delta.storage.S3DynamoDBLogStore.ddb.region"    = var.aws_region
  }
}

# --- Lake ------------------------------------------------------------------------------------

output "lake_bucket" {
  description = "Lake bucket; bronze, silver and gold are prefixes under lake_root."
  value       = module.lake.lake_bucket
}

output "lake_root" {
  description = "Value of RWA_LAKE_ROOT (s3://<lake bucket>/<lake_prefix>)."
  value       = module.lake.lake_root
}

output "lake_layer_uris" {
  description = "URI of each medallion layer."
  value       = { for layer, prefix in module.lake.layer_prefixes : layer => "s3://${module.lake.lake_bucket}/${trimsuffix(prefix, "/")}" }
}

output "checkpoint_bucket" {
  description = "Bucket for Spark Structured Streaming checkpoints."
  value       = module.lake.checkpoint_bucket
}

output "checkpoint_root" {
  description = "URI under which streaming jobs keep their checkpoints."
  value       = "s3://${module.lake.checkpoint_bucket}/checkpoints"
}

output "access_logs_bucket" {
  description = "Bucket receiving S3 server access logs of the lake and checkpoints buckets."
  value       = module.lake.access_logs_bucket
}

output "delta_lock_table" {
  description = "DynamoDB table coordinating Delta commits on S3."
  value       = module.lake.delta_lock_table
}

output "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the environment's data at rest."
  value       = module.kms.key_arn
}

# --- Kafka -----------------------------------------------------------------------------------

output "kafka_cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = module.kafka.cluster_arn
}

output "kafka_bootstrap_brokers" {
  description = "Bootstrap servers (TLS + IAM auth, port 9098) for the Kafka publisher and lander. Clients use security_protocol=SASL_SSL, sasl_mechanism=OAUTHBEARER with an MSK IAM token provider."
  value       = module.kafka.bootstrap_brokers_sasl_iam
}

output "kafka_topics" {
  description = "Topics to create at start-up (auto-creation is off): name => partitions, replication factor, retention.ms."
  value       = module.kafka.topics
}

# --- Serving store ---------------------------------------------------------------------------

output "timescale_dsn_secret_arn" {
  description = "Secret holding RWA_TIMESCALE_DSN (written by the TimescaleDB host at first boot in ec2 mode, by Terraform in external mode)."
  value       = module.secrets.timescale_dsn_secret_arn
}

output "timescale_instance_id" {
  description = "TimescaleDB host (ec2 mode; null in external mode). Shell: aws ssm start-session --target <id>."
  value       = one(module.serving[*].instance_id)
}

output "timescale_private_ip" {
  description = "Private address of the TimescaleDB host (ec2 mode; null in external mode)."
  value       = one(module.serving[*].private_ip)
}

# --- Secrets and identities ------------------------------------------------------------------

output "source_api_key_secret_arns" {
  description = "Secrets for the data-source API keys, by source (created without values)."
  value       = module.secrets.source_api_key_secret_arns
}

output "role_arns" {
  description = "Workload roles: ingestion (connectors + lander), spark (jobs, Dagster runs), api (read-only)."
  value       = module.iam.role_arns
}

output "instance_profile_names" {
  description = "Instance profiles of the workload roles (only when ec2.amazonaws.com is in workload_trust_services)."
  value       = module.iam.instance_profile_names
}

# --- Network ---------------------------------------------------------------------------------

output "vpc_id" {
  description = "VPC of the environment."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets for workloads (EKS node groups, ECS services, EMR Serverless)."
  value       = module.network.private_subnet_ids
}

output "workload_security_group_id" {
  description = "Attach to every workload that talks to Kafka or TimescaleDB."
  value       = module.network.workload_security_group_id
}

# --- Kubernetes (infra/kubernetes) -------------------------------------------------------------

output "kubernetes_settings" {
  description = "Non-secret environment of the Kubernetes workloads (ConfigMap rwa-settings): rwa_settings, the Kafka client settings and delta_rs_environment in one map. infra/kubernetes/terraform-env.sh writes it to the production overlay's terraform.env."
  value = merge(
    {
      RWA_LAKE_ROOT               = module.lake.lake_root
      RWA_AWS_REGION              = var.aws_region
      RWA_SERVING_BACKEND         = "timescaledb"
      RWA_KAFKA_BOOTSTRAP_SERVERS = module.kafka.bootstrap_brokers_sasl_iam
      RWA_KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
    },
    {
      AWS_S3_LOCKING_PROVIDER = "dynamodb"
      DELTA_DYNAMO_TABLE_NAME = module.lake.delta_lock_table
    },
  )
}

output "secret_names" {
  description = "Secrets Manager names of the secrets Terraform creates, by the key of the Kubernetes Secret rwa-secrets they fill (the External Secrets Operator's remoteRef keys)."
  value = merge(
    { RWA_TIMESCALE_DSN = module.secrets.timescale_dsn_secret_name },
    # The setting of each source's key: RWA_<SOURCE>_API_KEY, but NewsAPI's is RWA_NEWSAPI_KEY.
    { for name in var.source_api_keys : lookup({ newsapi = "RWA_NEWSAPI_KEY" }, name, "RWA_${replace(upper(name), "-", "_")}_API_KEY") => "${local.name_prefix}/source/${name}/api-key" },
  )
}

output "vpc_cidr" {
  description = "CIDR of the VPC: the Kubernetes NetworkPolicy rwa-egress-vpc-services lets workloads reach the data services inside it."
  value       = var.vpc_cidr
}
