//! The directory's one query layer over its two databases: [`Sql`], a connection or transaction
//! of either SQLite (rusqlite) or PostgreSQL (the blocking `postgres` client from an r2d2 pool),
//! with parameters and rows as [`Value`]s. The directory's methods and row mappings are written
//! once against it; what differs per database lives here only: placeholders (`?1` is written,
//! PostgreSQL gets `$1`), how booleans and integers travel, and how a transaction is opened.
//!
//! Owns moving values in and out of the two clients; it must not know any table or rule (that is
//! `rows.rs` and the [`Directory`](super::Directory)'s).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::types::{IsNull, ToSql as PgToSql, Type};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::DirectoryError;

pub(super) use super::pg_pool::PgPool;

/// How often a PostgreSQL write that lost a race to a concurrent one is tried (see
/// [`Backend::write`]).
const PG_ATTEMPTS: u32 = 3;

/// Whether a PostgreSQL write failed only because a concurrent transaction got there first: a
/// unique index it would have checked for, or a serialisation failure or deadlock.
fn lost_a_race(e: &DirectoryError) -> bool {
    use postgres::error::SqlState;
    let DirectoryError::Postgres(e) = e else {
        return false;
    };
    e.code().is_some_and(|code| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(code)
    })
}

/// Connections a gateway's directory pool keeps at most: the watcher and a few admin requests.
const PG_POOL_SIZE: u32 = 4;

/// Builds a pool for `config` (connections are made when first needed, within 5 s).
pub(super) fn pg_pool(config: postgres::Config) -> Result<PgPool, DirectoryError> {
    Ok(PgPool::new(
        r2d2::Pool::builder()
            .max_size(PG_POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(5))
            .build(PostgresConnectionManager::new(config, NoTls))?,
    ))
}

/// One parameter or one column value.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Bool(_) => "a boolean",
            Value::Bytes(_) => "bytes",
        }
    }
}

/// Never the value itself: a column may hold a grant key.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// `&[Value]` from anything each [`Value`] converts from.
macro_rules! values {
    ($($v:expr),* $(,)?) => { &[$($crate::directory::sql::Value::from($v)),*] };
}
pub(super) use values;

/// One result row; every getter checks the column's type, so a database edited by hand gets a
/// refusal, not a panic.
#[derive(Debug)]
pub(super) struct Row(Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, DirectoryError> {
        self.0
            .get(i)
            .ok_or_else(|| DirectoryError::invalid("row", format!("no column {i}")))
    }

    fn wrong(&self, i: usize, wanted: &str) -> DirectoryError {
        let found = self.0.get(i).map_or("nothing", Value::kind);
        DirectoryError::invalid("row", format!("column {i} is {found}, not {wanted}"))
    }

    pub(super) fn opt_text(&self, i: usize) -> Result<Option<String>, DirectoryError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            _ => Err(self.wrong(i, "text")),
        }
    }

    pub(super) fn text(&self, i: usize) -> Result<String, DirectoryError> {
        self.opt_text(i)?.ok_or_else(|| self.wrong(i, "text"))
    }

    pub(super) fn int(&self, i: usize) -> Result<i64, DirectoryError> {
        match self.at(i)? {
            Value::Int(n) => Ok(*n),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    pub(super) fn u32(&self, i: usize) -> Result<u32, DirectoryError> {
        u32::try_from(self.int(i)?).map_err(|_| self.wrong(i, "a count"))
    }

    /// A boolean: PostgreSQL's BOOLEAN, or SQLite's 0/1.
    pub(super) fn opt_bool(&self, i: usize) -> Result<Option<bool>, DirectoryError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::Int(0) => Ok(Some(false)),
            Value::Int(1) => Ok(Some(true)),
            _ => Err(self.wrong(i, "a boolean")),
        }
    }

    pub(super) fn bool(&self, i: usize) -> Result<bool, DirectoryError> {
        self.opt_bool(i)?.ok_or_else(|| self.wrong(i, "a boolean"))
    }

    pub(super) fn bytes(&self, i: usize) -> Result<Vec<u8>, DirectoryError> {
        match self.at(i)? {
            Value::Bytes(b) => Ok(b.clone()),
            _ => Err(self.wrong(i, "bytes")),
        }
    }
}

/// A connection or open transaction of either database. SQL is written in the common subset of
/// the two dialects with `?N` placeholders.
pub(super) trait Sql {
    /// Runs a statement; the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DirectoryError>;

    /// Runs a query; every row.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DirectoryError>;

    /// Runs a query; its first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DirectoryError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a query that returns exactly one row.
    fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, DirectoryError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DirectoryError::invalid("row", "query returned no row".into()))
    }
}

// ---- SQLite ----

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn sqlite_value(v: ValueRef<'_>) -> Result<Value, DirectoryError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| DirectoryError::invalid("row", e.to_string()))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        ValueRef::Real(_) => return Err(DirectoryError::invalid("row", "a real number".into())),
    })
}

/// A SQLite connection (a `rusqlite::Transaction` derefs to one). Statements go through the
/// connection's prepared-statement cache: parsing the lookups' SQL again per call cost more than
/// running it.
pub(super) struct Lite<'a>(pub(super) &'a rusqlite::Connection);

impl Sql for Lite<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DirectoryError> {
        let n = self
            .0
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DirectoryError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..width)
                .map(|i| sqlite_value(row.get_ref(i)?))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Row(values));
        }
        Ok(out)
    }
}

// ---- PostgreSQL ----

impl PgToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Each variant's own conversion checks the type in `to_sql`.
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.to_sql(ty, out)
    }
}

fn pg_row(row: &postgres::Row) -> Result<Row, DirectoryError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|n| Value::Int(n.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|n| Value::Int(n.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
            _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

/// `?N` placeholders as PostgreSQL's `$N`. The directory's SQL has no `?` in a literal.
pub(super) fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_params(params: &[Value]) -> Vec<&(dyn PgToSql + Sync)> {
    params.iter().map(|p| p as &(dyn PgToSql + Sync)).collect()
}

/// A PostgreSQL transaction: every directory read and write runs in one, so a read of a tenant
/// and its hostnames sees one state and a refused write changes nothing.
pub(super) struct Pg<'a, 'b>(pub(super) &'a mut postgres::Transaction<'b>);

impl Sql for Pg<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DirectoryError> {
        Ok(self
            .0
            .execute(pg_placeholders(sql).as_str(), &pg_params(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DirectoryError> {
        self.0
            .query(pg_placeholders(sql).as_str(), &pg_params(params))?
            .iter()
            .map(pg_row)
            .collect()
    }
}

// ---- the two backends ----

/// Which database a [`Directory`](super::Directory) talks to.
#[derive(Debug)]
pub(super) enum Backend {
    /// One connection, behind a mutex so that reads can share the directory between threads.
    Sqlite(Mutex<rusqlite::Connection>),
    /// A pool; each read or write takes a connection and runs one transaction on it.
    Postgres(PgPool),
}

impl Backend {
    fn sqlite(conn: &Mutex<rusqlite::Connection>) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while it was held cannot leave it inconsistent (every write is one
        // transaction), so a poisoned lock is taken over.
        conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a consistent view of the database; nothing it writes is kept.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, DirectoryError>,
    ) -> Result<T, DirectoryError> {
        match self {
            Backend::Sqlite(conn) => f(&mut Lite(&Self::sqlite(conn))),
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut tx = client.transaction()?;
                // Dropped without commit: rolled back.
                f(&mut Pg(&mut tx))
            }
        }
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`: a refusal changes nothing.
    ///
    /// SQLite runs one writer at a time (the transaction takes the write lock first), so `f`'s
    /// checks see every earlier write. PostgreSQL lets
    /// two writers check at once (READ COMMITTED): when both insert the same tenant, hostname or
    /// credential, the second fails on the unique index. That transaction is run again, up to
    /// [`PG_ATTEMPTS`] times, and now `f`'s own check sees the first writer's row and refuses as
    /// SQLite would (a duplicate, not a database error).
    pub(super) fn write<T>(
        &mut self,
        mut f: impl FnMut(&mut dyn Sql) -> Result<T, DirectoryError>,
    ) -> Result<T, DirectoryError> {
        match self {
            Backend::Sqlite(conn) => {
                let conn = conn.get_mut().unwrap_or_else(PoisonError::into_inner);
                // IMMEDIATE: take the write lock before the checks read (waiting out another
                // writer within the busy timeout); a deferred transaction that read first could
                // not upgrade and would fail "database is locked" instead.
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(&mut Lite(&tx))?;
                tx.commit()?;
                Ok(out)
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get()?;
                let mut attempt = 1;
                loop {
                    match pg_transaction(&mut client, &mut f) {
                        Err(e) if attempt < PG_ATTEMPTS && lost_a_race(&e) => attempt += 1,
                        done => return done,
                    }
                }
            }
        }
    }
}

/// One run of `f` in a PostgreSQL transaction, committed when it returns `Ok`.
fn pg_transaction<T>(
    client: &mut postgres::Client,
    f: &mut impl FnMut(&mut dyn Sql) -> Result<T, DirectoryError>,
) -> Result<T, DirectoryError> {
    let mut tx = client.transaction()?;
    let out = f(&mut Pg(&mut tx))?;
    tx.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12 OR d ? e"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 OR d ? e"
        );
    }

    #[test]
    fn a_row_refuses_a_column_of_the_wrong_type() {
        let row = Row(vec![
            Value::Text("s3cret".into()),
            Value::Int(2),
            Value::Null,
        ]);
        assert_eq!(row.text(0).unwrap(), "s3cret");
        assert!(row.int(0).is_err());
        assert!(row.bool(1).is_err());
        assert!(row.text(2).is_err());
        assert_eq!(row.opt_bool(2).unwrap(), None);
        assert!(row.text(9).is_err());
        assert!(!format!("{row:?}").contains("s3cret"));
    }
}
