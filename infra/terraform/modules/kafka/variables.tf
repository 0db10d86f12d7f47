variable "name_prefix" {
  description = "Prefix of resource names, <project>-<environment>."
  type        = string
}

variable "kafka_version" {
  description = "Apache Kafka version of the cluster."
  type        = string
}

variable "broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
}

variable "broker_count" {
  description = "Number of brokers (a multiple of the number of subnets)."
  type        = number
}

variable "broker_volume_gb" {
  description = "EBS storage per broker in GiB."
  type        = number
}

variable "subnet_ids" {
  description = "Private subnets, one per zone, the brokers are spread over."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the brokers."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for broker storage and the broker log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the broker log group."
  type        = number
}

variable "topics" {
  description = "Topics of the pipeline: name => { partitions, retention_hours }."
  type = map(object({
    partitions      = number
    retention_hours = number
  }))
}

variable "enhanced_monitoring" {
  description = "MSK enhanced monitoring level: DEFAULT, PER_BROKER, PER_TOPIC_PER_BROKER or PER_TOPIC_PER_PARTITION."
  type        = string
  default     = "DEFAULT"
}
