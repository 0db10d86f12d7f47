# MSK cluster for the raw topics (price-data-raw, onchain-data-raw, economic-data-raw,
# news-sentiment-raw). Clients connect over TLS with IAM authentication (SASL/OAUTHBEARER via
# aws-msk-iam-sasl-signer on port 9098); unauthenticated and plaintext access are off.
# Topics are never auto-created: a producer that typos a topic name fails instead of
# silently writing to a new, unreplicated topic.

locals {
  cluster_name       = "${var.name_prefix}-kafka"
  replication_factor = min(3, var.broker_count)
  min_insync         = max(1, local.replication_factor - 1)

  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "delete.topic.enable=true",
    "default.replication.factor=${local.replication_factor}",
    "min.insync.replicas=${local.min_insync}",
    "num.partitions=3",
    "unclean.leader.election.enable=false",
    "offsets.topic.replication.factor=${local.replication_factor}",
    "transaction.state.log.replication.factor=${local.replication_factor}",
    "transaction.state.log.min.isr=${local.min_insync}",
    "log.retention.hours=168",
    "message.max.bytes=4194304",
    "replica.fetch.max.bytes=4194304",
    "",
  ])
}

resource "aws_cloudwatch_log_group" "broker" {
  name              = "/aws/msk/${local.cluster_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = {
    Name      = "/aws/msk/${local.cluster_name}"
    Component = "kafka"
  }
}

resource "aws_msk_configuration" "this" {
  name              = local.cluster_name
  description       = "${local.cluster_name}: no topic auto-creation, durable replication"
  kafka_versions    = [var.kafka_version]
  server_properties = local.server_properties

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "this" {
  cluster_name           = local.cluster_name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = var.enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = var.security_group_ids

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gb
      }
    }
  }

  client_authentication {
    unauthenticated = false

    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker.name
      }
    }
  }

  tags = {
    Name      = local.cluster_name
    Component = "kafka"
  }

  lifecycle {
    precondition {
      condition     = var.broker_count % length(var.subnet_ids) == 0
      error_message = "broker_count must be a multiple of the number of subnets (zones)."
    }
    precondition {
      condition     = alltrue([for t in values(var.topics) : t.partitions >= 1])
      error_message = "Every topic needs at least one partition."
    }
  }
}

locals {
  # Kafka-level IAM resources: arn:...:topic/<cluster>/<uuid>/<topic>, arn:...:group/<cluster>/<uuid>/<group>.
  topic_arn_prefix = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":topic/")}/"
  group_arn_prefix = "${replace(aws_msk_cluster.this.arn, ":cluster/", ":group/")}/"
}
