/**
 * The small SQL interface the PostgreSQL backends run on: a node-postgres pool for real servers, or
 * an in-process PGlite (Postgres compiled to WASM, with its pgvector extension) for tests and
 * single-process use. Values always travel as parameters ($1, $2, …), never inside the SQL text.
 */
export interface SqlQueryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface SqlClient extends SqlQueryable {
  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** What SqlClient needs of a node-postgres pool (structural: no types from `pg` in Nimble's API). */
export interface PoolLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<{ query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>; release(err?: Error | boolean): void }>;
  end(): Promise<void>;
}

/** A node-postgres pool (`new pg.Pool(…)`) as a SqlClient (closing it ends the pool). */
export function poolClient(pool: PoolLike): SqlClient {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await pool.query(text, params)).rows as R[] }),
    async transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await work({ query: async <R>(text: string, params?: unknown[]) => ({ rows: (await client.query(text, params)).rows as R[] }) });
        await client.query("COMMIT");
        return result;
      } catch (err) {
        // A connection whose ROLLBACK fails is not given back to the pool.
        await client.query("ROLLBACK").catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** What SqlClient needs of a PGlite instance (typed structurally: PGlite is not a run-time dependency). */
export interface PGliteLike extends SqlQueryable {
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * A PGlite instance (created with `extensions: { vector }` from `@electric-sql/pglite/vector`) as a
 * SqlClient. `close` closes the instance unless `keepOpen` (a caller sharing it among "replicas").
 */
export function pgliteClient(db: PGliteLike, options: { keepOpen?: boolean } = {}): SqlClient {
  return {
    query: (text, params) => db.query(text, params),
    transaction: (work) => db.transaction(work),
    close: async () => {
      if (!options.keepOpen) await db.close();
    },
  };
}
