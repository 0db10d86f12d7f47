# Offline tests: `terraform test` (Terraform >= 1.11, for override_during) with a mocked AWS
# provider (values in tests/mocks). Nothing is created and no credentials are needed: every run
# is a plan, and the AWS provider still validates every argument it receives.
#
# Security and behaviour properties of each module, checked in isolation.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

run "lake_buckets_are_private_encrypted_and_archived" {
  command = plan

  module {
    source = "./modules/lake"
  }

  variables {
    name_prefix                           = "rwa-test"
    account_id                            = "123456789012"
    aws_region                            = "us-east-1"
    kms_key_arn                           = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    lake_prefix                           = "lake"
    bronze_archive_after_days             = 730
    bronze_archive_storage_class          = "GLACIER"
    noncurrent_version_expiration_days    = 30
    checkpoint_noncurrent_expiration_days = 7
    access_log_retention_days             = 365
    force_destroy                         = false
  }

  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.data : v.versioning_configuration[0].status == "Enabled"])
    error_message = "Lake and checkpoint buckets must be versioned."
  }

  assert {
    condition = alltrue([for e in aws_s3_bucket_server_side_encryption_configuration.data :
    one([for r in e.rule : one(r.apply_server_side_encryption_by_default).sse_algorithm]) == "aws:kms" && one(e.rule).bucket_key_enabled])
    error_message = "Lake and checkpoint buckets must use SSE-KMS with bucket keys."
  }

  assert {
    condition = alltrue([for b in aws_s3_bucket_public_access_block.data :
    b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "All public access must be blocked."
  }

  assert {
    condition = alltrue([for p in aws_s3_bucket_policy.data :
    anytrue([for s in jsondecode(p.policy).Statement : s.Effect == "Deny" && try(s.Condition.Bool["aws:SecureTransport"], "") == "false"])])
    error_message = "Bucket policies must deny requests without TLS."
  }

  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.lake.rule :
      try(one(r.filter).prefix == "lake/bronze/" && one(r.transition).days == 730 && one(r.transition).storage_class == "GLACIER", false)
    ])
    error_message = "Bronze must move to Glacier after 730 days."
  }

  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.lake.rule :
    try(one(r.noncurrent_version_expiration).noncurrent_days == 30, false)])
    error_message = "Noncurrent versions must expire."
  }

  assert {
    condition     = output.lake_root == "s3://rwa-test-lake-123456789012-us-east-1/lake"
    error_message = "Unexpected lake root ${output.lake_root}."
  }

  assert {
    condition     = aws_dynamodb_table.delta_log.hash_key == "tablePath" && aws_dynamodb_table.delta_log.range_key == "fileName"
    error_message = "The Delta lock table must use the delta-rs / delta-spark schema."
  }
}

run "kafka_is_tls_iam_without_topic_autocreation" {
  command = plan

  module {
    source = "./modules/kafka"
  }

  variables {
    name_prefix          = "rwa-test"
    kafka_version        = "3.8.x"
    broker_instance_type = "kafka.t3.small"
    broker_count         = 2
    broker_volume_gb     = 50
    subnet_ids           = ["subnet-a", "subnet-b"]
    security_group_ids   = ["sg-kafka"]
    kms_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    log_retention_days   = 14
    topics = {
      "price-data-raw" = { partitions = 6, retention_hours = 168 }
    }
  }

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "auto.create.topics.enable=false")
    error_message = "Topic auto-creation must be off."
  }

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "default.replication.factor=2") && strcontains(aws_msk_configuration.this.server_properties, "min.insync.replicas=1")
    error_message = "Replication must follow the broker count."
  }

  assert {
    condition = (
      one(aws_msk_cluster.this.client_authentication).unauthenticated == false &&
      one(one(aws_msk_cluster.this.client_authentication).sasl).iam == true
    )
    error_message = "Clients must authenticate with IAM."
  }

  assert {
    condition     = one(one(aws_msk_cluster.this.encryption_info).encryption_in_transit).client_broker == "TLS"
    error_message = "Client traffic must be TLS only."
  }

  assert {
    condition     = output.topic_arns["price-data-raw"] == "arn:aws:kafka:us-east-1:123456789012:topic/rwa-test-kafka/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-1/price-data-raw"
    error_message = "Topic ARNs must follow the MSK IAM resource format."
  }
}

run "kafka_broker_count_must_fill_every_zone" {
  command = plan

  module {
    source = "./modules/kafka"
  }

  variables {
    name_prefix          = "rwa-test"
    kafka_version        = "3.8.x"
    broker_instance_type = "kafka.t3.small"
    broker_count         = 3
    broker_volume_gb     = 50
    subnet_ids           = ["subnet-a", "subnet-b"]
    security_group_ids   = ["sg-kafka"]
    kms_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    log_retention_days   = 14
    topics               = {}
  }

  expect_failures = [aws_msk_cluster.this]
}

run "iam_api_is_read_only_on_gold" {
  command = plan

  module {
    source = "./modules/iam"
  }

  variables {
    name_prefix                 = "rwa-test"
    partition                   = "aws"
    aws_region                  = "us-east-1"
    trusted_services            = ["pods.eks.amazonaws.com"]
    kms_key_arn                 = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    lake_bucket_arn             = "arn:aws:s3:::rwa-test-lake"
    layer_prefixes              = { bronze = "lake/bronze/", silver = "lake/silver/", gold = "lake/gold/" }
    checkpoint_bucket_arn       = "arn:aws:s3:::rwa-test-checkpoints"
    delta_lock_table_arn        = "arn:aws:dynamodb:us-east-1:123456789012:table/rwa-test-delta-log"
    kafka_cluster_arn           = "arn:aws:kafka:us-east-1:123456789012:cluster/rwa-test-kafka/uuid"
    kafka_topic_arns            = ["arn:aws:kafka:us-east-1:123456789012:topic/rwa-test-kafka/uuid/price-data-raw"]
    kafka_group_arn_prefix      = "arn:aws:kafka:us-east-1:123456789012:group/rwa-test-kafka/uuid/"
    kafka_consumer_group_prefix = "rwa-"
    source_secret_arns          = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:rwa-test/source/fred/api-key-AbCdEf"]
    dsn_secret_arn              = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rwa-test/timescale/dsn-AbCdEf"
  }

  assert {
    condition = alltrue(flatten([for s in jsondecode(aws_iam_role_policy.workload["api"].policy).Statement : [
      for a in flatten([s.Action]) : contains(["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "kms:Decrypt"], a)
    ]]))
    error_message = "The API role may only list/read, never write."
  }

  assert {
    condition = alltrue(flatten([for s in jsondecode(aws_iam_role_policy.workload["api"].policy).Statement : [
      for r in flatten([s.Resource]) : !startswith(r, "arn:aws:s3:::rwa-test-lake/") || r == "arn:aws:s3:::rwa-test-lake/lake/gold/*"
    ]]))
    error_message = "The API role may read objects under gold only."
  }

  assert {
    condition = alltrue(flatten([for s in jsondecode(aws_iam_role_policy.workload["ingestion"].policy).Statement : [
      for a in flatten([s.Action]) : a != "s3:DeleteObject"
    ]]))
    error_message = "Ingestion must not delete bronze objects (bronze is immutable)."
  }

  assert {
    condition = alltrue(flatten([for s in jsondecode(aws_iam_role_policy.workload["spark"].policy).Statement : [
      for r in flatten([s.Resource]) : r != "*"
    ]]))
    error_message = "No workload statement may use a wildcard resource."
  }

  assert {
    condition     = length(aws_iam_instance_profile.workload) == 0
    error_message = "No instance profiles unless EC2 is trusted."
  }
}

run "serving_host_is_hardened" {
  command = plan

  module {
    source = "./modules/serving"
  }

  variables {
    name_prefix             = "rwa-test"
    aws_region              = "us-east-1"
    partition               = "aws"
    subnet_id               = "subnet-a"
    security_group_ids      = ["sg-timescale"]
    client_cidrs            = ["10.40.0.0/16"]
    kms_key_arn             = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    dsn_secret_arn          = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rwa-test/timescale/dsn-AbCdEf"
    instance_type           = "t4g.large"
    architecture            = "arm64"
    postgres_version        = 17
    database                = "rwa"
    data_volume_gb          = 50
    data_volume_iops        = 3000
    data_volume_throughput  = 125
    snapshot_retention_days = 7
    skip_final_snapshot     = false
  }

  assert {
    condition     = aws_ebs_volume.data.encrypted && aws_ebs_volume.data.final_snapshot
    error_message = "The data volume must be encrypted and snapshotted on destroy."
  }

  assert {
    condition     = one(aws_launch_template.this.metadata_options).http_tokens == "required"
    error_message = "The host must require IMDSv2."
  }

  assert {
    condition     = one(one(aws_launch_template.this.block_device_mappings).ebs).encrypted == "true"
    error_message = "The root volume must be encrypted."
  }

  assert {
    condition = alltrue([
      strcontains(base64decode(aws_launch_template.this.user_data), "PG_MAJOR=\"17\""),
      strcontains(base64decode(aws_launch_template.this.user_data), "hostssl $DB_NAME $DB_NAME 10.40.0.0/16 scram-sha-256"),
      strcontains(base64decode(aws_launch_template.this.user_data), "CREATE EXTENSION IF NOT EXISTS timescaledb"),
    ])
    error_message = "user_data must install TimescaleDB, admit the VPC over TLS + SCRAM and create the extension."
  }

  assert {
    condition     = length(aws_dlm_lifecycle_policy.data) == 1
    error_message = "Daily snapshots are expected."
  }
}

run "serving_refuses_mismatched_architecture" {
  command = plan

  module {
    source = "./modules/serving"
  }

  variables {
    name_prefix             = "rwa-test"
    aws_region              = "us-east-1"
    partition               = "aws"
    subnet_id               = "subnet-a"
    security_group_ids      = ["sg-timescale"]
    client_cidrs            = ["10.40.0.0/16"]
    kms_key_arn             = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    dsn_secret_arn          = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rwa-test/timescale/dsn-AbCdEf"
    instance_type           = "r7i.large"
    architecture            = "amd64"
    postgres_version        = 17
    database                = "rwa"
    data_volume_gb          = 50
    data_volume_iops        = 3000
    data_volume_throughput  = 125
    snapshot_retention_days = 0
    skip_final_snapshot     = true
  }

  expect_failures = [aws_launch_template.this]
}
