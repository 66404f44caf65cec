"""`python .ci/services.py check PG_URL REDIS_URL`: exit 0 when both answer (used by the Makefile)."""

import sys


def check(pg_url: str, redis_url: str) -> bool:
    try:
        import psycopg
        import redis

        with psycopg.connect(pg_url.replace("/eduplatform", "/postgres"), connect_timeout=3) as conn:
            conn.execute("select 1")
        return bool(redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping())
    except Exception as exc:  # any failure means "not reachable"
        print(f"services: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return False


if __name__ == "__main__":
    sys.exit(0 if len(sys.argv) == 4 and sys.argv[1] == "check" and check(sys.argv[2], sys.argv[3]) else 1)
