variable "name_prefix" {
  description = "Prefix of resource names, <project>-<environment>."
  type        = string
}

variable "aws_region" {
  description = "Region (the host calls Secrets Manager there)."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet of the host; the data volume is created in its zone."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups of the host."
  type        = list(string)
}

variable "client_cidrs" {
  description = "IPv4 CIDRs pg_hba.conf admits (TLS + SCRAM only); network access is limited further by the security group."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key of the root and data volumes (and of the DSN secret)."
  type        = string
}

variable "dsn_secret_arn" {
  description = "Secret the host writes the DSN to at first boot."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of the host."
  type        = string
}

variable "architecture" {
  description = "arm64 or amd64; must match instance_type."
  type        = string

  validation {
    condition     = contains(["arm64", "amd64"], var.architecture)
    error_message = "architecture must be arm64 or amd64."
  }
}

variable "ami_id" {
  description = "AMI to use; null = current Canonical Ubuntu 24.04 for the architecture."
  type        = string
  default     = null
}

variable "postgres_version" {
  description = "PostgreSQL major version."
  type        = number
}

variable "database" {
  description = "Database and login role of the serving store."
  type        = string
}

variable "root_volume_gb" {
  description = "Size of the root volume in GiB."
  type        = number
  default     = 20
}

variable "data_volume_gb" {
  description = "Size of the data volume in GiB."
  type        = number
}

variable "data_volume_iops" {
  description = "gp3 IOPS of the data volume."
  type        = number
}

variable "data_volume_throughput" {
  description = "gp3 throughput of the data volume in MiB/s."
  type        = number
}

variable "snapshot_retention_days" {
  description = "Days daily snapshots of the data volume are kept (0 = no snapshots)."
  type        = number
}

variable "skip_final_snapshot" {
  description = "Destroy the data volume without a final snapshot (dev only)."
  type        = bool
}
