from mamori_common.migrations import run_env
from services.auth.main import metadata

run_env(metadata)
