from mamori_common.migrations import run_env
from services.verification.main import metadata

run_env(metadata)
