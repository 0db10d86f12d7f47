# Least-privilege workload roles. Each reads and writes only what its stage of the medallion
# flow touches:
#
#   role        lake bucket                                   other
#   ingestion   bronze: list, read, write (no delete: bronze  Kafka: write + read the pipeline
#               is immutable)                                 topics, lander consumer groups;
#                                                             source API key secrets
#   spark       bronze: list, read; silver + gold: list,      checkpoints bucket; Delta lock
#               read, write, delete (MERGE, OPTIMIZE, VACUUM)  table; DSN secret (gold loader)
#   api         gold: list, read                              DSN secret
#
# Dagster runs the Spark and ML assets in-process, so its run workers use the spark role.
# KMS use is allowed only through S3, DynamoDB and Secrets Manager (kms:ViaService).

locals {
  region = var.aws_region

  bronze = var.layer_prefixes["bronze"]
  silver = var.layer_prefixes["silver"]
  gold   = var.layer_prefixes["gold"]

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "WorkloadPlatforms"
      Effect    = "Allow"
      Principal = { Service = var.trusted_services }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })

  kms_via = {
    s3             = "s3.${local.region}.amazonaws.com"
    dynamodb       = "dynamodb.${local.region}.amazonaws.com"
    secretsmanager = "secretsmanager.${local.region}.amazonaws.com"
  }

  # ListBucket on the lake bucket, limited to the given key prefixes.
  list_statement = {
    for role, prefixes in {
      ingestion = [local.bronze]
      spark     = [local.bronze, local.silver, local.gold]
      api       = [local.gold]
      } : role => {
      Sid      = "ListOwnLayers"
      Effect   = "Allow"
      Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
      Resource = var.lake_bucket_arn
      Condition = {
        StringLike = { "s3:prefix" = flatten([for p in prefixes : [p, "${p}*"]]) }
      }
    }
  }

  role_policies = {
    ingestion = [
      local.list_statement.ingestion,
      {
        Sid      = "WriteBronze"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = "${var.lake_bucket_arn}/${local.bronze}*"
      },
      {
        Sid      = "KafkaCluster"
        Effect   = "Allow"
        Action   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
        Resource = var.kafka_cluster_arn
      },
      {
        # Produce (connectors), consume (lander) and create-if-missing at start-up; never delete
        # or reconfigure topics.
        Sid      = "KafkaPipelineTopics"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:WriteData", "kafka-cluster:ReadData"]
        Resource = var.kafka_topic_arns
      },
      {
        Sid      = "KafkaLanderGroups"
        Effect   = "Allow"
        Action   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
        Resource = "${var.kafka_group_arn_prefix}${var.kafka_consumer_group_prefix}*"
      },
      {
        Sid      = "SourceApiKeys"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.source_secret_arns
      },
      {
        Sid       = "KeyViaS3AndSecrets"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = var.kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = [local.kms_via.s3, local.kms_via.secretsmanager] } }
      },
    ]

    spark = [
      local.list_statement.spark,
      {
        Sid      = "ReadBronze"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "${var.lake_bucket_arn}/${local.bronze}*"
      },
      {
        Sid    = "ReadWriteSilverGold"
        Effect = "Allow"
        Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = [
          "${var.lake_bucket_arn}/${local.silver}*",
          "${var.lake_bucket_arn}/${local.gold}*",
        ]
      },
      {
        Sid      = "CheckpointsBucket"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
        Resource = var.checkpoint_bucket_arn
      },
      {
        Sid      = "CheckpointsObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = "${var.checkpoint_bucket_arn}/*"
      },
      {
        Sid      = "DeltaCommitLock"
        Effect   = "Allow"
        Action   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
        Resource = var.delta_lock_table_arn
      },
      {
        Sid      = "ServingStoreDsn"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.dsn_secret_arn
      },
      {
        Sid       = "KeyViaS3DynamoDbAndSecrets"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = var.kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = values(local.kms_via) } }
      },
    ]

    api = [
      local.list_statement.api,
      {
        Sid      = "ReadGold"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "${var.lake_bucket_arn}/${local.gold}*"
      },
      {
        Sid      = "ServingStoreDsn"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.dsn_secret_arn
      },
      {
        Sid       = "KeyViaS3AndSecrets"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = var.kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = [local.kms_via.s3, local.kms_via.secretsmanager] } }
      },
    ]
  }

  descriptions = {
    ingestion = "RWA ingestion connectors and Kafka-to-bronze lander"
    spark     = "RWA Spark jobs (bronze to silver to gold, ML) and Dagster run workers"
    api       = "RWA FastAPI service: read-only on gold and the serving store"
  }
}

resource "aws_iam_role" "workload" {
  for_each = local.role_policies

  name                 = "${var.name_prefix}-${each.key}"
  description          = local.descriptions[each.key]
  assume_role_policy   = local.assume_role_policy
  max_session_duration = 3600

  tags = {
    Name      = "${var.name_prefix}-${each.key}"
    Component = each.key
  }
}

resource "aws_iam_role_policy" "workload" {
  for_each = local.role_policies

  name = "${each.key}-least-privilege"
  role = aws_iam_role.workload[each.key].id

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = each.value
  })
}

# Instance profiles only when EC2 may assume the roles (e.g. a Spark cluster on plain EC2).
resource "aws_iam_instance_profile" "workload" {
  for_each = { for name, r in aws_iam_role.workload : name => r.name if contains(var.trusted_services, "ec2.amazonaws.com") }

  name = each.value
  role = each.value
}
