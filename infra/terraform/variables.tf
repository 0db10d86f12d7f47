# ---------------------------------------------------------------------------------------------
# Identity and placement
# ---------------------------------------------------------------------------------------------

variable "project" {
  description = "Short project name; the first part of every resource name (<project>-<environment>-...)."
  type        = string
  default     = "rwa"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.project))
    error_message = "project must be 2-10 characters: lower-case letters and digits, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, e.g. dev, staging, prod. Part of every resource name and the Environment tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.environment)) && !endswith(var.environment, "-")
    error_message = "environment must be 2-12 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

variable "aws_region" {
  description = "AWS region of every resource (e.g. us-east-1). Maps to RWA_AWS_REGION."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region code, e.g. us-east-1 or eu-west-2."
  }
}

variable "extra_tags" {
  description = "Tags added to every resource on top of Project, Environment, ManagedBy and Repository (e.g. CostCenter, Owner)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /22). Private subnets take the first az_count eighths, public subnets a slice of the last eighth."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition = (
      can(cidrhost(var.vpc_cidr, 0)) &&
      try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 22, false) &&
      try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false)
    )
    error_message = "vpc_cidr must be a network address with a prefix length between /16 and /22, e.g. 10.40.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets (and MSK brokers) over: 2 or 3."
  type        = number
  default     = 3

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3 (MSK needs at least two zones)."
  }
}

variable "nat_gateway_mode" {
  description = "Outbound internet for private subnets: none, single (one NAT gateway, cheaper) or per_az (one per zone, survives a zone outage). The self-managed TimescaleDB host and the ingestion connectors need outbound internet."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["none", "single", "per_az"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be one of: none, single, per_az."
  }
}

variable "enable_interface_endpoints" {
  description = "Create interface VPC endpoints (Secrets Manager, KMS, STS, SSM, ...) so that AWS API calls stay inside the VPC. About USD 7-8 per endpoint per zone per month. S3 and DynamoDB gateway endpoints are always created (free)."
  type        = bool
  default     = false
}

variable "allowed_client_cidrs" {
  description = "Extra IPv4 CIDRs (VPN, peered VPCs) allowed to reach Kafka (9098) and TimescaleDB (5432). Workloads inside the VPC reach them through the workload security group."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_client_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry of allowed_client_cidrs must be an IPv4 CIDR, e.g. 10.99.0.0/16."
  }

  validation {
    condition     = !contains(var.allowed_client_cidrs, "0.0.0.0/0")
    error_message = "allowed_client_cidrs must not contain 0.0.0.0/0: Kafka and TimescaleDB are private services."
  }
}

# ---------------------------------------------------------------------------------------------
# Lake (S3) and encryption
# ---------------------------------------------------------------------------------------------

variable "lake_prefix" {
  description = "Key prefix of the lake inside the lake bucket; RWA_LAKE_ROOT becomes s3://<lake bucket>/<lake_prefix>. Layers live under <lake_prefix>/bronze, /silver and /gold."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,30}$", var.lake_prefix))
    error_message = "lake_prefix must be 1-31 characters of a-z, 0-9, '_' or '-', with no slashes."
  }
}

variable "bronze_archive_after_days" {
  description = "Age in days after which raw bronze objects move to the archive storage class (the product keeps 2 years hot: 730)."
  type        = number
  default     = 730

  validation {
    condition     = var.bronze_archive_after_days >= 30 && floor(var.bronze_archive_after_days) == var.bronze_archive_after_days
    error_message = "bronze_archive_after_days must be a whole number of at least 30."
  }
}

variable "bronze_archive_storage_class" {
  description = "Storage class bronze objects are archived to: GLACIER (Flexible Retrieval), GLACIER_IR (Instant Retrieval) or DEEP_ARCHIVE."
  type        = string
  default     = "GLACIER"

  validation {
    condition     = contains(["GLACIER", "GLACIER_IR", "DEEP_ARCHIVE"], var.bronze_archive_storage_class)
    error_message = "bronze_archive_storage_class must be GLACIER, GLACIER_IR or DEEP_ARCHIVE."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted lake object version is kept (Delta VACUUM and overwrites leave noncurrent versions behind)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650
    error_message = "noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

variable "checkpoint_noncurrent_expiration_days" {
  description = "Days a noncurrent version in the checkpoints bucket (Spark streaming state, rewritten constantly) is kept."
  type        = number
  default     = 7

  validation {
    condition     = var.checkpoint_noncurrent_expiration_days >= 1 && var.checkpoint_noncurrent_expiration_days <= 365
    error_message = "checkpoint_noncurrent_expiration_days must be between 1 and 365."
  }
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs of the lake buckets are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets, the Delta lock table and the TimescaleDB volume without a final snapshot. Only for throw-away dev environments."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the environment's KMS key is deleted after terraform destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups (MSK broker logs)."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------

variable "source_api_keys" {
  description = "Data sources that get an (empty) Secrets Manager secret for their API key. Values are put by an operator, never by Terraform."
  type        = list(string)
  default     = ["coingecko", "fred", "newsapi"]

  validation {
    condition     = alltrue([for s in var.source_api_keys : can(regex("^[a-z][a-z0-9-]{1,30}$", s))])
    error_message = "Each source_api_keys entry must be 2-31 characters of a-z, 0-9 and '-', starting with a letter."
  }

  validation {
    condition     = length(distinct(var.source_api_keys)) == length(var.source_api_keys)
    error_message = "source_api_keys must not repeat a name."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored: 0 (delete at once; dev only) or 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

# ---------------------------------------------------------------------------------------------
# Kafka (MSK)
# ---------------------------------------------------------------------------------------------

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster (e.g. 3.8.x lets MSK apply patch releases)."
  type        = string
  default     = "3.8.x"

  validation {
    condition     = can(regex("^[3-9]\\.[0-9]+\\.([0-9]+|x)(\\.tiered)?$", var.kafka_version))
    error_message = "kafka_version must be a Kafka 3.x or later MSK version string such as 3.8.x or 3.6.0."
  }
}

variable "kafka_broker_instance_type" {
  description = "MSK broker instance type, e.g. kafka.t3.small (dev) or kafka.m7g.large (prod)."
  type        = string
  default     = "kafka.m7g.large"

  validation {
    condition     = can(regex("^kafka\\.[a-z0-9]+\\.[a-z0-9]+$", var.kafka_broker_instance_type))
    error_message = "kafka_broker_instance_type must be an MSK broker type such as kafka.t3.small or kafka.m7g.large."
  }
}

variable "kafka_broker_count" {
  description = "Number of MSK brokers; must be a multiple of az_count. Three or more gives replication factor 3 with min.insync.replicas 2."
  type        = number
  default     = 3

  validation {
    condition     = var.kafka_broker_count >= 2 && var.kafka_broker_count <= 30 && floor(var.kafka_broker_count) == var.kafka_broker_count
    error_message = "kafka_broker_count must be a whole number between 2 and 30."
  }
}

variable "kafka_broker_volume_gb" {
  description = "EBS storage per MSK broker in GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.kafka_broker_volume_gb >= 1 && var.kafka_broker_volume_gb <= 16384
    error_message = "kafka_broker_volume_gb must be between 1 and 16384."
  }
}

variable "kafka_topics" {
  description = "Topics the pipeline uses (auto-creation is off). Terraform grants access to exactly these; they are created by the ingestion role's admin client at start-up (see README). retention_hours = -1 keeps records forever."
  type = map(object({
    partitions      = number
    retention_hours = number
  }))
  default = {
    "price-data-raw"     = { partitions = 6, retention_hours = 168 }
    "onchain-data-raw"   = { partitions = 3, retention_hours = 168 }
    "economic-data-raw"  = { partitions = 1, retention_hours = 720 }
    "news-sentiment-raw" = { partitions = 3, retention_hours = 168 }
  }

  validation {
    condition     = alltrue([for name, t in var.kafka_topics : can(regex("^[a-zA-Z0-9._-]{1,249}$", name)) && t.partitions >= 1 && (t.retention_hours == -1 || t.retention_hours >= 1)])
    error_message = "Topic names must be 1-249 characters of a-z, A-Z, 0-9, '.', '_' or '-'; partitions at least 1; retention_hours -1 or at least 1."
  }
}

variable "kafka_consumer_group_prefix" {
  description = "Consumer groups the lander may use must start with this prefix (IAM scopes group access to <prefix>*)."
  type        = string
  default     = "rwa-"

  validation {
    condition     = can(regex("^[a-zA-Z0-9._-]{1,100}$", var.kafka_consumer_group_prefix))
    error_message = "kafka_consumer_group_prefix must be 1-100 characters of a-z, A-Z, 0-9, '.', '_' or '-'."
  }
}

# ---------------------------------------------------------------------------------------------
# Serving store (TimescaleDB)
# ---------------------------------------------------------------------------------------------

variable "timescale_mode" {
  description = "Where the TimescaleDB serving store runs. ec2: self-managed on an EC2 instance with an encrypted EBS data volume (Amazon RDS does not offer the timescaledb extension). external: an existing server such as Timescale Cloud, whose DSN is given in timescale_external_dsn."
  type        = string
  default     = "ec2"

  validation {
    condition     = contains(["ec2", "external"], var.timescale_mode)
    error_message = "timescale_mode must be ec2 or external."
  }
}

variable "timescale_external_dsn" {
  description = "libpq DSN of an external TimescaleDB (timescale_mode = external), e.g. postgresql://user:pass@host:5432/tsdb?sslmode=require. Stored in Secrets Manager (and in Terraform state: keep state encrypted). Pass it with TF_VAR_timescale_external_dsn, not in a committed file."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.timescale_external_dsn == null || can(regex("^postgres(ql)?://", var.timescale_external_dsn))
    error_message = "timescale_external_dsn must be a postgresql:// (or postgres://) URL."
  }
}

variable "timescale_instance_type" {
  description = "EC2 instance type of the TimescaleDB host (memory-optimised types suit time-series queries), e.g. t4g.large (dev) or r7g.xlarge (prod). Its CPU architecture must match timescale_architecture."
  type        = string
  default     = "r7g.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.timescale_instance_type))
    error_message = "timescale_instance_type must be an EC2 instance type such as t4g.large or r7g.xlarge."
  }
}

variable "timescale_architecture" {
  description = "CPU architecture of the TimescaleDB host's Ubuntu 24.04 image: arm64 (Graviton, cheaper) or amd64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "amd64"], var.timescale_architecture)
    error_message = "timescale_architecture must be arm64 or amd64."
  }
}

variable "timescale_ami_id" {
  description = "Pin the TimescaleDB host's AMI. Null = the current Canonical Ubuntu 24.04 image for timescale_architecture (read from the public SSM parameter)."
  type        = string
  default     = null

  validation {
    condition     = var.timescale_ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.timescale_ami_id))
    error_message = "timescale_ami_id must be null or an AMI id such as ami-0123456789abcdef0."
  }
}

variable "timescale_postgres_version" {
  description = "PostgreSQL major version TimescaleDB is installed for (15, 16 or 17)."
  type        = number
  default     = 17

  validation {
    condition     = contains([15, 16, 17], var.timescale_postgres_version)
    error_message = "timescale_postgres_version must be 15, 16 or 17."
  }
}

variable "timescale_data_volume_gb" {
  description = "Size of the encrypted gp3 EBS data volume of TimescaleDB in GiB (it can grow later, never shrink)."
  type        = number
  default     = 200

  validation {
    condition     = var.timescale_data_volume_gb >= 20 && var.timescale_data_volume_gb <= 16384
    error_message = "timescale_data_volume_gb must be between 20 and 16384."
  }
}

variable "timescale_data_volume_iops" {
  description = "Provisioned IOPS of the gp3 data volume (3000-16000; 3000 is free)."
  type        = number
  default     = 3000

  validation {
    condition     = var.timescale_data_volume_iops >= 3000 && var.timescale_data_volume_iops <= 16000
    error_message = "timescale_data_volume_iops must be between 3000 and 16000."
  }
}

variable "timescale_data_volume_throughput" {
  description = "Provisioned throughput of the gp3 data volume in MiB/s (125-1000; 125 is free)."
  type        = number
  default     = 125

  validation {
    condition     = var.timescale_data_volume_throughput >= 125 && var.timescale_data_volume_throughput <= 1000
    error_message = "timescale_data_volume_throughput must be between 125 and 1000."
  }
}

variable "timescale_snapshot_retention_days" {
  description = "Daily EBS snapshots of the TimescaleDB data volume are kept this many days (0 disables snapshots)."
  type        = number
  default     = 14

  validation {
    condition     = var.timescale_snapshot_retention_days >= 0 && var.timescale_snapshot_retention_days <= 1000
    error_message = "timescale_snapshot_retention_days must be between 0 and 1000."
  }
}

variable "timescale_database" {
  description = "Database (and login role) the serving store uses on the self-managed host."
  type        = string
  default     = "rwa"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.timescale_database)) && !contains(["postgres", "template0", "template1"], var.timescale_database)
    error_message = "timescale_database must be a lower-case PostgreSQL identifier other than postgres/template0/template1."
  }
}

# ---------------------------------------------------------------------------------------------
# Workload identities
# ---------------------------------------------------------------------------------------------

variable "workload_trust_services" {
  description = "AWS service principals that may assume the ingestion, Spark and API roles: EKS Pod Identity, ECS tasks, EC2 instances, EMR Serverless."
  type        = list(string)
  default     = ["pods.eks.amazonaws.com", "ecs-tasks.amazonaws.com"]

  validation {
    condition     = length(var.workload_trust_services) > 0 && alltrue([for s in var.workload_trust_services : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", s))])
    error_message = "workload_trust_services must be a non-empty list of service principals such as pods.eks.amazonaws.com."
  }
}
