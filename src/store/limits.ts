/** The trail keeps this many entries per token; older ones make way. */
export const AUDIT_ENTRIES_PER_TOKEN = 200
/** A trail entry's detail, and a last-use address, never grow past these, whatever a caller passes. */
export const AUDIT_DETAIL_MAX = 500
export const ADDRESS_MAX = 64
