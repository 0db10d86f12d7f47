variable "name_prefix" {
  description = "Prefix of resource names, <project>-<environment>."
  type        = string
}

variable "account_id" {
  description = "AWS account id that owns the key."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "aws_region" {
  description = "Region of the key (CloudWatch Logs may use it in this region)."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before the key is deleted (7-30 days)."
  type        = number
}
