# State backend.
#
# No backend is configured in code: `terraform init -backend=false` (tests, CI) and a local state
# file (a quick personal sandbox) both work as is. For a shared environment, copy the block below
# into a file of your own (e.g. backend_override.tf, which .gitignore keeps out of the repository)
# or pass the settings with `terraform init -backend-config=envs/<env>.s3.tfbackend`.
# `use_lockfile` is S3-native state locking (Terraform >= 1.10); no DynamoDB lock table is needed.
#
# terraform {
#   backend "s3" {
#     bucket       = "my-org-terraform-state"          # versioned, SSE-KMS, created out of band
#     key          = "rwa-lakehouse/prod/terraform.tfstate"
#     region       = "us-east-1"
#     encrypt      = true
#     kms_key_id   = "alias/terraform-state"
#     use_lockfile = true
#   }
# }
