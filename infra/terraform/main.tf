# Root module: the AWS production shape of the RWA lakehouse.
#
#   network  VPC, private (+ NAT) subnets, gateway/interface endpoints, security groups
#   kms      one customer-managed key per environment (S3, DynamoDB, MSK, EBS, Secrets, Logs)
#   lake     S3 lake bucket (bronze/silver/gold prefixes), checkpoints bucket, access logs,
#            DynamoDB table for Delta commit coordination on S3
#   secrets  Secrets Manager secrets: source API keys (no values) and the TimescaleDB DSN
#   kafka    MSK cluster: TLS in transit, IAM auth, no auto-created topics
#   serving  self-managed TimescaleDB on EC2 (only when timescale_mode = "ec2")
#   iam      least-privilege roles for ingestion/lander, Spark jobs and the API

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
}

# Cross-variable rules (variable validation can only see its own variable before Terraform 1.9).
resource "terraform_data" "configuration_guard" {
  input = {
    timescale_mode   = var.timescale_mode
    nat_gateway_mode = var.nat_gateway_mode
  }

  lifecycle {
    precondition {
      condition     = var.timescale_mode != "ec2" || var.nat_gateway_mode != "none"
      error_message = "timescale_mode = \"ec2\" installs TimescaleDB from package repositories at first boot and needs outbound internet: set nat_gateway_mode to single or per_az, or use timescale_mode = \"external\"."
    }
    precondition {
      condition     = var.timescale_mode != "external" || var.timescale_external_dsn != null
      error_message = "timescale_mode = \"external\" needs timescale_external_dsn (set TF_VAR_timescale_external_dsn)."
    }
    precondition {
      condition     = var.kafka_broker_count % var.az_count == 0
      error_message = "kafka_broker_count must be a multiple of az_count: MSK places the same number of brokers in every zone."
    }
  }
}

module "kms" {
  source = "./modules/kms"

  name_prefix             = local.name_prefix
  account_id              = local.account_id
  partition               = local.partition
  aws_region              = var.aws_region
  deletion_window_in_days = var.kms_deletion_window_days
}

module "network" {
  source = "./modules/network"

  name_prefix                = local.name_prefix
  aws_region                 = var.aws_region
  vpc_cidr                   = var.vpc_cidr
  az_count                   = var.az_count
  nat_gateway_mode           = var.nat_gateway_mode
  enable_interface_endpoints = var.enable_interface_endpoints
  allowed_client_cidrs       = var.allowed_client_cidrs
}

module "lake" {
  source = "./modules/lake"

  name_prefix                           = local.name_prefix
  account_id                            = local.account_id
  aws_region                            = var.aws_region
  kms_key_arn                           = module.kms.key_arn
  lake_prefix                           = var.lake_prefix
  bronze_archive_after_days             = var.bronze_archive_after_days
  bronze_archive_storage_class          = var.bronze_archive_storage_class
  noncurrent_version_expiration_days    = var.noncurrent_version_expiration_days
  checkpoint_noncurrent_expiration_days = var.checkpoint_noncurrent_expiration_days
  access_log_retention_days             = var.access_log_retention_days
  force_destroy                         = var.force_destroy
}

module "secrets" {
  source = "./modules/secrets"

  name_prefix             = local.name_prefix
  kms_key_arn             = module.kms.key_arn
  source_api_keys         = var.source_api_keys
  recovery_window_in_days = var.secret_recovery_window_days
  manage_dsn_value        = var.timescale_mode == "external"
  timescale_external_dsn  = var.timescale_external_dsn
}

module "kafka" {
  source = "./modules/kafka"

  name_prefix          = local.name_prefix
  kafka_version        = var.kafka_version
  broker_instance_type = var.kafka_broker_instance_type
  broker_count         = var.kafka_broker_count
  broker_volume_gb     = var.kafka_broker_volume_gb
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.network.kafka_security_group_id]
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
  topics               = var.kafka_topics
}

module "serving" {
  source = "./modules/serving"
  count  = var.timescale_mode == "ec2" ? 1 : 0

  name_prefix             = local.name_prefix
  aws_region              = var.aws_region
  partition               = local.partition
  subnet_id               = module.network.private_subnet_ids[0]
  security_group_ids      = [module.network.timescale_security_group_id]
  client_cidrs            = concat([var.vpc_cidr], var.allowed_client_cidrs)
  kms_key_arn             = module.kms.key_arn
  dsn_secret_arn          = module.secrets.timescale_dsn_secret_arn
  instance_type           = var.timescale_instance_type
  architecture            = var.timescale_architecture
  ami_id                  = var.timescale_ami_id
  postgres_version        = var.timescale_postgres_version
  database                = var.timescale_database
  data_volume_gb          = var.timescale_data_volume_gb
  data_volume_iops        = var.timescale_data_volume_iops
  data_volume_throughput  = var.timescale_data_volume_throughput
  snapshot_retention_days = var.timescale_snapshot_retention_days
  skip_final_snapshot     = var.force_destroy
}

module "iam" {
  source = "./modules/iam"

  name_prefix                 = local.name_prefix
  partition                   = local.partition
  aws_region                  = var.aws_region
  trusted_services            = var.workload_trust_services
  kms_key_arn                 = module.kms.key_arn
  lake_bucket_arn             = module.lake.lake_bucket_arn
  layer_prefixes              = module.lake.layer_prefixes
  checkpoint_bucket_arn       = module.lake.checkpoint_bucket_arn
  delta_lock_table_arn        = module.lake.delta_lock_table_arn
  kafka_cluster_arn           = module.kafka.cluster_arn
  kafka_topic_arns            = values(module.kafka.topic_arns)
  kafka_group_arn_prefix      = module.kafka.group_arn_prefix
  kafka_consumer_group_prefix = var.kafka_consumer_group_prefix
  source_secret_arns          = values(module.secrets.source_api_key_secret_arns)
  dsn_secret_arn              = module.secrets.timescale_dsn_secret_arn
}
