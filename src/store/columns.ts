/**
 * A table's columns declared once, as a map from a domain object's fields to the columns that
 * keep them: the SELECT list, the INSERT's columns and parameters and both directions of the row
 * mapping are derived from it, and JSON columns are parsed here and nowhere else.
 */

/** What cape writes to and reads from SQLite and PostgreSQL: it keeps no blobs. */
export type SqlValue = string | number | null

/** A row as better-sqlite3 and the postgres driver return it: a fresh object per row, by column name (or alias). */
export type Row = Record<string, SqlValue>

/** Both stores keep the same tables and columns; only some expressions and the parameters are written differently. */
export type Dialect = 'sqlite' | 'postgres'

/** How one field is kept: in which columns (most fields have one), and how it is written and read. */
export interface Field<Value> {
  readonly columns: readonly string[]
  /** The values of `columns`, in their order. */
  write(value: Value): readonly SqlValue[]
  /** The SQL that reads it back, in each dialect, when that is not its one column. */
  readonly select?: Readonly<Record<Dialect, string>>
  /** The value from what the database returns for it; absent when that is the value itself. */
  read?(stored: SqlValue): Value
}

/** A value kept as it is: text, a number or null. Read back as the type the schema gives the column. */
export function plain<Value extends SqlValue>(column: string): Field<Value> {
  return {columns: [column], write: (value) => [value]}
}

/** Words without spaces (scopes), kept space-separated: '' is none. */
export function words(column: string): Field<string[]> {
  return {
    columns: [column],
    write: (value) => [value.join(' ')],
    read: (stored) => (stored === '' ? [] : (stored as string).split(' ')),
  }
}

/** A JSON value; SQL null stands for null. */
export function json<Value>(column: string): Field<Value | null> {
  return {
    columns: [column],
    write: (value) => [value === null ? null : JSON.stringify(value)],
    read: (stored) => (stored === null ? null : (JSON.parse(stored as string) as Value)),
  }
}

/** A JSON value that is never null. */
export function requiredJson<Value>(column: string): Field<Value> {
  return {columns: [column], write: (value) => [JSON.stringify(value)], read: (stored) => JSON.parse(stored as string) as Value}
}

export type Fields<Domain> = {readonly [Key in keyof Domain]-?: Field<Domain[Key]>}

export class Table<Domain> {
  /** Every field, read back under its own name (`created_at AS "createdAt"`): for SELECT. */
  readonly select: string
  /** `a, b, c`: every column, for INSERT. */
  readonly columns: string
  /**
   * An INSERT's values as parameters: in SQLite, named (`@a, @b, @c`, filled by toRow); in
   * PostgreSQL, numbered (`$1, $2, $3`, filled by values).
   */
  readonly parameters: string
  private readonly keys: ReadonlyArray<keyof Domain & string>
  private readonly names: readonly string[]
  /** Only the fields whose stored form is not their value: the others need no work per row. */
  private readonly decoders: ReadonlyArray<readonly [keyof Domain & string, (stored: SqlValue) => unknown]>

  constructor(
    private readonly fields: Fields<Domain>,
    private readonly dialect: Dialect = 'sqlite',
  ) {
    this.keys = Object.keys(fields) as Array<keyof Domain & string>
    this.select = this.selectOf(...this.keys)
    this.names = this.keys.flatMap((key) => fields[key].columns)
    this.columns = this.names.join(', ')
    this.parameters = this.names.map((name, index) => (dialect === 'sqlite' ? `@${name}` : `$${index + 1}`)).join(', ')
    this.decoders = this.keys.flatMap((key) => {
      const {read} = fields[key]
      return read ? [[key, read] as const] : []
    })
  }

  /** The same table, in another dialect's SQL. */
  in(dialect: Dialect): Table<Domain> {
    return new Table(this.fields, dialect)
  }

  /** Some fields, read back under their own names; a row of only plain fields is already the object. */
  selectOf(...keys: ReadonlyArray<keyof Domain & string>): string {
    return keys
      .map((key) => {
        const {columns, select} = this.fields[key]
        const expression = select?.[this.dialect] ?? columns[0]!
        return expression === key ? key : `${expression} AS "${key}"`
      })
      .join(', ')
  }

  /** The named parameters of an INSERT of `value`. */
  toRow(value: Domain): Row {
    const row: Row = {}
    this.values(value).forEach((stored, index) => {
      row[this.names[index]!] = stored
    })
    return row
  }

  /** The numbered parameters of an INSERT of `value`: every column's value, in the order of `columns`. */
  values(value: Domain): SqlValue[] {
    return this.keys.flatMap((key) => {
      const field = this.fields[key]
      const written = field.write(value[key])
      return field.columns.map((_, index) => written[index] ?? null)
    })
  }

  /** The domain object a row of `SELECT ${select}` stands for: that row itself, its stored forms decoded in place. */
  fromRow(row: Row): Domain {
    const value: Record<string, unknown> = row
    for (const [key, read] of this.decoders) value[key] = read(row[key])
    return value as Domain
  }
}
