#!/bin/sh
# A partner program from start to a paid payout, with curl: the README's "Running a partner program"
# as a script that runs as written. Every id is taken from the answer that made it.
#
#   API=http://localhost:8080/api KEY=<admin key> sh examples/walkthrough.sh
#
# KEY is the admin key a first start prints (or `partnerd key create --name walkthrough`). In multi
# mode: API=http://localhost:8080/api/t/<slug> ROUTER=http://localhost:8080/r/<slug>.
# Names and ids carry RUN (the time by default), so the script can run again on the same database.
set -eu
: "${API:?set API to the tenant API, e.g. http://localhost:8080/api}"
: "${KEY:?set KEY to an admin key}"
ROUTER=${ROUTER:-${API%/api*}/r}
RUN=${RUN:-$(date +%s)}

# Every call shows the refusal ({error, detail}) and stops the script when the API says no.
call() { curl -sS --fail-with-body -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
# The first "name":"value" pair of an answer.
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d '"' -f 4; }

echo '1. A program: its currency, rules, attribution, and a holdback of 0 days so that this run can pay'
echo '   at once (a real program waits out its refund window, 30 days by default).'
PROGRAM=$(call "$API/programs" -d '{"name":"Launch '"$RUN"'","currency":"USD","status":"active",
  "destinationUrl":"https://shop.example.com/","deepLinkHosts":["docs.example.com"],"holdbackDays":0,
  "rules":[{"on":"signup","amount":"5.00"},{"on":"sale","percent":"20","recurring":{"months":12}}]}' | field id)
echo "   program $PROGRAM"

echo '2. A partner, and a link of theirs in the program.'
PARTNER=$(call "$API/partners" -d '{"email":"ada+'"$RUN"'@example.com","name":"Ada"}' | field id)
LINK=$(call "$API/links" -d '{"partnerId":"'"$PARTNER"'","programId":"'"$PROGRAM"'","key":"ada-'"$RUN"'"}' | field id)
echo "   partner $PARTNER, link $LINK: $ROUTER/ada-$RUN"

echo '3. A visitor follows the link: the router records the click and sends them on with cref=<click id>.'
LOCATION=$(curl -sS -o /dev/null -A 'Mozilla/5.0 (walkthrough)' -w '%{redirect_url}' "$ROUTER/ada-$RUN")
CREF=$(printf '%s' "$LOCATION" | sed -n 's/.*[?&]cref=\([^&]*\).*/\1/p')
echo "   → $LOCATION"

echo '4. They sign up on your site, which ties the click to its own customer id.'
call "$API/attribution/identify" -d '{"cref":"'"$CREF"'","userId":"customer-'"$RUN"'"}' >/dev/null

echo '5. They buy: your server reports the sale, and the partner earns 20%.'
SALE=$(call "$API/attribution/events" -d '{"userId":"customer-'"$RUN"'","type":"sale","value":"49.00",
  "currency":"USD","externalEventId":"inv-'"$RUN"'"}')
COMMISSION=$(printf '%s' "$SALE" | grep -o '"commissions":\[{"id":"[^"]*"' | cut -d '"' -f 6)
echo "   commission $COMMISSION: $(printf '%s' "$SALE" | grep -o '"amount":"[^"]*"' | head -n 1 | cut -d '"' -f 4) USD"

echo '6. Past its holdback, the commission is approved (the approval job does it by itself too).'
call -X POST "$API/commissions/$COMMISSION/approve" >/dev/null

echo '7. A payout run groups what is approved into pending payouts; pay them your way (here, the PayPal file).'
PAYOUT=$(call "$API/payouts/run" -d '{}' | grep -o '"payouts":\[{"id":"[^"]*"' | cut -d '"' -f 6)
call "$API/payouts/export.csv?format=paypal"
call "$API/payouts/mark-paid" -d '{"payoutIds":["'"$PAYOUT"'"],"reference":"walkthrough-'"$RUN"'"}' >/dev/null

echo "8. Payout $PAYOUT is $(call "$API/payouts/$PAYOUT" | field status)."
