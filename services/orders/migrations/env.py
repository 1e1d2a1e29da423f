from mamori_common.migrations import run_env
from services.orders.main import metadata

run_env(metadata)
