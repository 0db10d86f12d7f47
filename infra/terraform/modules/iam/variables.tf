variable "name_prefix" {
  description = "Prefix of role names, <project>-<environment>."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "aws_region" {
  description = "Region of the services whose KMS use is allowed (kms:ViaService)."
  type        = string
}

variable "trusted_services" {
  description = "Service principals that may assume the workload roles (EKS Pod Identity, ECS tasks, EC2, EMR Serverless)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key of the buckets, the lock table and the secrets."
  type        = string
}

variable "lake_bucket_arn" {
  description = "ARN of the lake bucket."
  type        = string
}

variable "layer_prefixes" {
  description = "Key prefix of each layer (bronze, silver, gold), with trailing slash."
  type        = map(string)

  validation {
    condition     = alltrue([for l in ["bronze", "silver", "gold"] : contains(keys(var.layer_prefixes), l)])
    error_message = "layer_prefixes must name bronze, silver and gold."
  }
}

variable "checkpoint_bucket_arn" {
  description = "ARN of the Spark streaming checkpoints bucket."
  type        = string
}

variable "delta_lock_table_arn" {
  description = "ARN of the DynamoDB table coordinating Delta commits."
  type        = string
}

variable "kafka_cluster_arn" {
  description = "ARN of the MSK cluster."
  type        = string
}

variable "kafka_topic_arns" {
  description = "IAM resource ARNs of the pipeline topics."
  type        = list(string)
}

variable "kafka_group_arn_prefix" {
  description = "Prefix of the cluster's consumer-group ARNs (ends with a slash)."
  type        = string
}

variable "kafka_consumer_group_prefix" {
  description = "Consumer groups of the lander start with this prefix."
  type        = string
}

variable "source_secret_arns" {
  description = "Secrets holding the data-source API keys (read by ingestion only)."
  type        = list(string)
}

variable "dsn_secret_arn" {
  description = "Secret holding the TimescaleDB DSN (read by Spark jobs and the API)."
  type        = string
}
