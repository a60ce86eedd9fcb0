/**
 * A table's columns declared once, as a map from a domain object's fields to the columns that
 * keep them: the column list, the INSERT's parameters and both directions of the row mapping are
 * derived from it, and JSON columns are parsed here and nowhere else.
 */

/** What cape writes to and reads from SQLite: it keeps no blobs. */
export type SqlValue = string | number | null

/** A row as better-sqlite3 returns it, by column name. */
export type Row = Readonly<Record<string, SqlValue>>

/** How one field is kept: in which columns (most fields have one), and how it is written and read. */
export interface Field<Value> {
  readonly columns: readonly string[]
  /** The values of `columns`, in their order. */
  write(value: Value): readonly SqlValue[]
  read(row: Row): Value
}

/** A value SQLite keeps as it is: text, a number or null. Read back as the type the schema gives the column. */
export function plain<Value extends SqlValue>(column: string): Field<Value> {
  return {columns: [column], write: (value) => [value], read: (row) => row[column] as Value}
}

/** Words without spaces (scopes), kept space-separated: '' is none. */
export function words(column: string): Field<string[]> {
  return {
    columns: [column],
    write: (value) => [value.join(' ')],
    read: (row) => {
      const text = row[column] as string
      return text === '' ? [] : text.split(' ')
    },
  }
}

/** A JSON value; SQL null stands for null. */
export function json<Value>(column: string): Field<Value | null> {
  return {
    columns: [column],
    write: (value) => [value === null ? null : JSON.stringify(value)],
    read: (row) => {
      const text = row[column] as string | null
      return text === null ? null : (JSON.parse(text) as Value)
    },
  }
}

/** A JSON value that is never null. */
export function requiredJson<Value>(column: string): Field<Value> {
  return {columns: [column], write: (value) => [JSON.stringify(value)], read: (row) => JSON.parse(row[column] as string) as Value}
}

export type Fields<Domain> = {readonly [Key in keyof Domain]-?: Field<Domain[Key]>}

export class Table<Domain> {
  /** `a, b, c`: every column of the map, for SELECT and INSERT. */
  readonly columns: string
  /** `@a, @b, @c`: an INSERT's values, as named parameters. */
  readonly parameters: string
  private readonly keys: ReadonlyArray<keyof Domain>

  constructor(private readonly fields: Fields<Domain>) {
    this.keys = Object.keys(fields) as Array<keyof Domain>
    const names = this.keys.flatMap((key) => fields[key].columns)
    this.columns = names.join(', ')
    this.parameters = names.map((name) => `@${name}`).join(', ')
  }

  /** The named parameters of an INSERT of `value`. */
  toRow(value: Domain): Record<string, SqlValue> {
    const row: Record<string, SqlValue> = {}
    for (const key of this.keys) {
      const field = this.fields[key]
      const values = field.write(value[key])
      field.columns.forEach((column, index) => {
        row[column] = values[index] ?? null
      })
    }

    return row
  }

  /** The domain object a row of `SELECT ${columns}` stands for. */
  fromRow(row: Row): Domain {
    const value: Partial<Record<keyof Domain, unknown>> = {}
    for (const key of this.keys) value[key] = this.fields[key].read(row)
    return value as Domain
  }
}
