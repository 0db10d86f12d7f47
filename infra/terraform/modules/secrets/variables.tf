variable "name_prefix" {
  description = "Prefix of secret names, <project>-<environment>."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the secrets."
  type        = string
}

variable "source_api_keys" {
  description = "Data sources that get a secret for their API key (created without a value)."
  type        = list(string)
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 = delete at once)."
  type        = number
}

variable "manage_dsn_value" {
  description = "Whether Terraform writes the TimescaleDB DSN secret's value (external mode). In ec2 mode the host writes it at first boot."
  type        = bool
}

variable "timescale_external_dsn" {
  description = "DSN of an external TimescaleDB, written to the DSN secret when manage_dsn_value is true."
  type        = string
  default     = null
  sensitive   = true
}
