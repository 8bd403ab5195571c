/**
 * partnerd keeps an event's attribution inside the event (its touches: a click and a weight each);
 * OpenPartner gives each touch a row of its own, with an id its commissions point at. This is that
 * id, for OpenPartner's clients (webhook data, the export bundle): the event and the click it pairs,
 * so the same touch has the same id wherever it is told.
 */
export function attributionIdOf(eventId: string, clickId: string): string {
  return `atr_${eventId}:${clickId}`
}
