# Production: three zones, replicated Kafka, memory-optimised TimescaleDB host.
#   terraform plan -var-file=envs/prod.tfvars
environment = "prod"
aws_region  = "us-east-1"

vpc_cidr                   = "10.50.0.0/16"
az_count                   = 3
nat_gateway_mode           = "per_az"
enable_interface_endpoints = true

kafka_version              = "3.8.x"
kafka_broker_instance_type = "kafka.m7g.large"
kafka_broker_count         = 3
kafka_broker_volume_gb     = 500

timescale_mode                    = "ec2"
timescale_instance_type           = "r7g.xlarge"
timescale_architecture            = "arm64"
timescale_data_volume_gb          = 500
timescale_data_volume_iops        = 6000
timescale_data_volume_throughput  = 250
timescale_snapshot_retention_days = 30

# To use Timescale Cloud instead of the EC2 host:
#   timescale_mode = "external"
# and export TF_VAR_timescale_external_dsn='postgresql://tsdbadmin:...@xxxx.tsdb.cloud.timescale.com:5432/tsdb?sslmode=require'

bronze_archive_after_days          = 730
bronze_archive_storage_class       = "GLACIER"
noncurrent_version_expiration_days = 30

force_destroy               = false
secret_recovery_window_days = 30
kms_deletion_window_days    = 30
log_retention_days          = 365

extra_tags = {
  CostCenter = "rwa-prod"
}
