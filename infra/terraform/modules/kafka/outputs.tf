output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster."
  value       = aws_msk_cluster.this.cluster_name
}

output "bootstrap_brokers_sasl_iam" {
  description = "Comma-separated host:9098 list for clients using TLS + IAM auth."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "topic_arns" {
  description = "IAM resource ARN of each pipeline topic, by topic name."
  value       = { for name in keys(var.topics) : name => "${local.topic_arn_prefix}${name}" }
}

output "group_arn_prefix" {
  description = "Prefix of consumer-group IAM resource ARNs of this cluster (append a group name or pattern)."
  value       = local.group_arn_prefix
}

output "topics" {
  description = "Topic specifications (partitions, replication factor, retention.ms) for the start-up topic creation."
  value = {
    for name, t in var.topics : name => {
      partitions         = t.partitions
      replication_factor = local.replication_factor
      retention_ms       = t.retention_hours == -1 ? -1 : t.retention_hours * 3600000
    }
  }
}
