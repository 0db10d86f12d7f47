# Development: smallest footprint that still runs the whole production shape.
#   terraform plan -var-file=envs/dev.tfvars
environment = "dev"
aws_region  = "us-east-1"

vpc_cidr                   = "10.40.0.0/16"
az_count                   = 2
nat_gateway_mode           = "single"
enable_interface_endpoints = false

kafka_broker_instance_type = "kafka.t3.small"
kafka_broker_count         = 2
kafka_broker_volume_gb     = 50

timescale_mode                    = "ec2"
timescale_instance_type           = "t4g.large"
timescale_architecture            = "arm64"
timescale_data_volume_gb          = 50
timescale_snapshot_retention_days = 7

# Throw-away environment: allow destroy of non-empty buckets, skip final snapshots.
force_destroy               = true
secret_recovery_window_days = 0
kms_deletion_window_days    = 7
log_retention_days          = 14

extra_tags = {
  CostCenter = "rwa-dev"
}
