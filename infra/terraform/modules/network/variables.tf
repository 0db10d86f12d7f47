variable "name_prefix" {
  description = "Prefix of resource names, <project>-<environment>."
  type        = string
}

variable "aws_region" {
  description = "Region of the VPC (names the endpoint services)."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /22)."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones (2 or 3)."
  type        = number
}

variable "nat_gateway_mode" {
  description = "none, single or per_az."
  type        = string

  validation {
    condition     = contains(["none", "single", "per_az"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be one of: none, single, per_az."
  }
}

variable "enable_interface_endpoints" {
  description = "Create the interface endpoints listed in interface_endpoint_services."
  type        = bool
}

variable "interface_endpoint_services" {
  description = "Short names of the AWS services that get an interface endpoint when enable_interface_endpoints is true."
  type        = list(string)
  default     = ["secretsmanager", "kms", "sts", "logs", "ssm", "ssmmessages", "ec2messages"]
}

variable "allowed_client_cidrs" {
  description = "Extra IPv4 CIDRs allowed to reach Kafka and TimescaleDB."
  type        = list(string)
  default     = []
}
