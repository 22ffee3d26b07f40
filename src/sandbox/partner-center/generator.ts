import { DAY_MS } from "../../domain/deadlines.js";
import type { WireReferral } from "../../partner-center/wire.js";
import { JOINT_PLANNING } from "../../partner-center/wire.js";
import { SeededRandom } from "../../shared/seeded-random.js";
import { PARTNER_SELLERS, SELLER_WITHOUT_CRM_USER } from "../../../connectors/sandbox-people.js";

/**
 * Realistic Joint Planning leads as Microsoft sellers send them: real-looking customers and
 * addresses, company sizes, deal values in local currencies, Microsoft sellers and notes. Seeded, so
 * a seed always produces the same set.
 */
interface Country {
  country: string;
  currency: string;
  cities: ReadonlyArray<readonly [string, string]>;
  region: string;
}

const COUNTRIES: readonly Country[] = [
  { country: "US", currency: "USD", cities: [["Seattle", "WA"], ["Austin", "TX"], ["Chicago", "IL"], ["Atlanta", "GA"]], region: "North America" },
  { country: "CA", currency: "CAD", cities: [["Toronto", "ON"], ["Vancouver", "BC"]], region: "North America" },
  { country: "GB", currency: "GBP", cities: [["London", ""], ["Manchester", ""]], region: "Western Europe" },
  { country: "DE", currency: "EUR", cities: [["Munich", "BY"], ["Hamburg", "HH"]], region: "Western Europe" },
  { country: "FR", currency: "EUR", cities: [["Lyon", ""], ["Paris", ""]], region: "Western Europe" },
  { country: "NL", currency: "EUR", cities: [["Utrecht", ""], ["Rotterdam", ""]], region: "Western Europe" },
  { country: "AU", currency: "AUD", cities: [["Sydney", "NSW"], ["Melbourne", "VIC"]], region: "Asia Pacific" },
  { country: "JP", currency: "JPY", cities: [["Osaka", ""], ["Tokyo", ""]], region: "Asia Pacific" },
  { country: "IN", currency: "INR", cities: [["Bengaluru", "KA"], ["Pune", "MH"]], region: "Asia Pacific" },
  { country: "BR", currency: "BRL", cities: [["São Paulo", "SP"], ["Curitiba", "PR"]], region: "Latin America" },
];

const CURRENCY_SCALE: Record<string, number> = { USD: 1, CAD: 1.35, GBP: 0.8, EUR: 0.92, AUD: 1.5, JPY: 150, INR: 83, BRL: 5 };

const COMPANY_STEMS = ["Fabrikam", "Contoso", "Northwind", "Tailspin", "Woodgrove", "Litware", "Proseware", "Adatum", "Fourth Coffee", "Lamna", "Relecloud", "Wingtip", "Alpine Ski House", "Coho Winery", "Margie's Travel", "Trey Research", "VanArsdel", "Wide World Importers", "Humongous Insurance", "Lucerne Publishing"];
const COMPANY_SUFFIXES = ["Ltd", "Inc.", "GmbH", "SA", "Group", "Holdings", "Pty Ltd", "BV", "KK", "Corp."];
const FIRST_NAMES = ["Ada", "Luc", "Mia", "Kenji", "Priya", "Sofia", "Noah", "Amara", "Mateo", "Ingrid", "Omar", "Chloé", "Wei", "Fatima", "Lars", "Aisha", "Diego", "Hannah", "Ravi", "Yuki"];
const LAST_NAMES = ["Martin", "Tanaka", "Sharma", "Müller", "Silva", "Okafor", "Johansson", "Dubois", "Chen", "Haddad", "García", "Kowalski", "Nguyen", "O'Brien", "Rossi", "Kim", "Patel", "Schmidt", "Costa", "Lindqvist"];
const SIZES = [["1to9employees", 1], ["10to50employees", 3], ["51to250employees", 5], ["251to1000employees", 5], ["1001to5000employees", 3], ["5001to10000employees", 2], ["10001to20000employees", 1], ["Morethan20000employees", 1]] as const;
const INDUSTRIES = ["Manufacturing", "Financial Services", "Healthcare", "Retail", "Public Sector", "Education", "Energy", "Media and Communications", "Professional Services"];
const WORKLOADS = [
  { product: "Azure", solution: "Azure Landing Zone", note: "wants a landing zone ahead of a datacenter exit" },
  { product: "Azure", solution: "SAP on Azure", note: "moving SAP ECC before the 2027 support deadline" },
  { product: "Microsoft 365", solution: "Microsoft 365 Copilot adoption", note: "pilot of 300 Copilot seats needs change management" },
  { product: "Dynamics 365", solution: "Dynamics 365 Sales", note: "replacing a legacy CRM across three regions" },
  { product: "Azure", solution: "Azure OpenAI Service", note: "customer service assistant grounded on their knowledge base" },
  { product: "Microsoft Fabric", solution: "Fabric analytics", note: "consolidating four BI tools onto Fabric" },
  { product: "Microsoft Sentinel", solution: "Security operations", note: "SOC modernisation after an audit finding" },
  { product: "Azure Virtual Desktop", solution: "Azure Virtual Desktop", note: "2,000 contractors need secure desktops" },
] as const;
const QUALIFICATIONS = [["SalesQualified", 3], ["MarketingQualified", 1]] as const;

export interface GenerateOptions {
  count: number;
  seed: number | string;
  /** Leads are received within this many days before `now` (default 10, so most are still open). */
  spreadDays?: number;
  now: Date;
  /** Share of leads already accepted by the partner (0..1); some of those have substages done. */
  acceptedShare?: number;
  /** Prefix for ids, so several generated sets never collide. */
  idPrefix?: string;
}

/** Share of new leads on which Microsoft tagged a partner seller (the direct-seller way of working). */
const TAGGED_SHARE = 0.4;

/**
 * The partner sellers a Microsoft seller tagged on a new lead: mostly the sandbox partner's sellers
 * (one of whom has left), sometimes a new hire with no CRM user yet. Drawn from the lead's id, not
 * the generator's stream, so every other field of a seeded set stays as it was.
 */
function taggedSellers(id: string): WireReferral["team"] {
  const random = new SeededRandom(`${id}|tagged`);
  if (random.next() >= TAGGED_SHARE) return [];
  const seller = random.chance(0.1) ? SELLER_WITHOUT_CRM_USER : random.pick(PARTNER_SELLERS);
  return [{ firstName: seller.firstName, lastName: seller.lastName, email: seller.email }];
}

export function generateLeads(options: GenerateOptions): WireReferral[] {
  const random = new SeededRandom(options.seed);
  const spreadMs = (options.spreadDays ?? 10) * DAY_MS;
  const leads: WireReferral[] = [];
  for (let i = 0; i < options.count; i += 1) {
    leads.push(generateLead(random, i, options.now, spreadMs, options.acceptedShare ?? 0.3, options.idPrefix ?? ""));
  }
  return leads;
}

/** The customer's address and id; the stream's draws for them are still taken, and dropped. */
function customerPlace(random: SeededRandom, customer: SeededRandom, city: string, state: string | undefined, place: (typeof COUNTRIES)[number]) {
  random.int(1, 400);
  random.pick(STREETS);
  random.int(10000, 99999);
  random.int(100000, 999999);
  return {
    address: { addressLine1: `${customer.int(1, 400)} ${customer.pick(STREETS)} Street`, city, state, postalCode: String(customer.int(10000, 99999)), country: place.country, region: place.region },
    ids: [{ profileType: "External", id: `cust-${customer.int(100000, 999999)}` }],
  };
}

/** The customer's industry; the stream's draw for it is still taken, and dropped. */
function customerIndustry(random: SeededRandom, customer: SeededRandom): string {
  random.pick(INDUSTRIES);
  return customer.pick(INDUSTRIES);
}

const STREETS = ["Main", "Harbour", "Market", "Station", "Park"];

function person(random: SeededRandom, domain: string) {
  const firstName = random.pick(FIRST_NAMES);
  const lastName = random.pick(LAST_NAMES);
  const local = `${firstName}.${lastName}`.normalize("NFD").replace(/[^A-Za-z.]/g, "").toLowerCase();
  return { firstName, lastName, email: `${local}@${domain}`, phoneNumber: `+1-555-${String(random.int(1000, 9999))}` };
}

const TITLES = ["CIO", "IT Director", "Head of Data", "CISO", "VP Operations"];

/**
 * The customer's contact person: one person (an address) has one phone and title on every lead
 * that names them, drawn from the address; the stream's draws are kept, so seeded sets are
 * otherwise as before.
 */
function customerContact(random: SeededRandom, domain: string) {
  const drawn = person(random, domain);
  random.pick(TITLES);
  const own = new SeededRandom(drawn.email);
  return { ...drawn, phoneNumber: `+1-555-${String(own.int(1000, 9999))}`, title: own.pick(TITLES) };
}

function generateLead(random: SeededRandom, index: number, now: Date, spreadMs: number, acceptedShare: number, idPrefix: string): WireReferral {
  const place = random.pick(COUNTRIES);
  random.pick(place.cities);
  const company = `${random.pick(COMPANY_STEMS)} ${random.pick(COMPANY_SUFFIXES)}`;
  // Microsoft sends several leads for one customer, each with the customer's one profile: the
  // address, size and id come from the customer, drawn aside so the stream (every other field of
  // a seeded set) is as before.
  const customer = new SeededRandom(`${company}|${place.country}`);
  const [city, state] = customer.pick(place.cities);
  // The customer's mail domain is its own (two customers sharing a stem do not share people).
  random.int(1, 99);
  const domain = `${company.toLowerCase().replace(/[^a-z]/g, "")}.example`;
  const workload = random.pick(WORKLOADS);
  random.weighted(SIZES);
  const size = customer.weighted(SIZES);
  const createdAt = new Date(now.getTime() - Math.floor(random.next() * spreadMs));
  const usd = Math.round(Math.exp(random.next() * 4 + 9.2) / 1000) * 1000; // ~10k to ~550k USD
  const currency = place.currency;
  const value = Math.round(usd * (CURRENCY_SCALE[currency] ?? 1));
  const seller = person(random, "microsoft.example");
  const contact = customerContact(random, domain);
  const id = `${idPrefix}${random.uuid()}`;
  const accepted = random.chance(acceptedShare);
  const acceptedAt = accepted ? new Date(createdAt.getTime() + Math.floor(random.next() * (now.getTime() - createdAt.getTime()))) : undefined;
  const qualifyDone = accepted && random.chance(0.5);
  const evaluateDone = qualifyDone && random.chance(0.4);
  const partnerSeller = person(random, "partner.example");
  const stamp = (acceptedAt ?? createdAt).toISOString();
  return {
    id,
    engagementId: random.uuid(),
    name: `${company} – ${workload.solution}`,
    externalReferenceId: undefined,
    organizationId: "00000000-0000-0000-0000-0000000000aa",
    organizationName: "Sandbox Partner",
    direction: "Incoming",
    createdDateTime: createdAt.toISOString(),
    updatedDateTime: stamp,
    ...(acceptedAt ? { acceptedDateTime: acceptedAt.toISOString() } : {}),
    expirationDateTime: new Date(createdAt.getTime() + 14 * DAY_MS).toISOString(),
    status: accepted ? "Active" : "New",
    substatus: accepted ? "Accepted" : random.pick(["Received", "Pending"]),
    type: "Independent",
    qualification: random.weighted(QUALIFICATIONS),
    referralProgram: JOINT_PLANNING.program,
    salesStage: accepted ? "Qualify" : "Prospecting",
    tags: [`seq-${index}`],
    eTag: `"${random.uuid()}"`,
    customerProfile: {
      name: company,
      ...customerPlace(random, customer, city, state, place),
      size,
      team: [contact],
    },
    consent: random.chance(0.2)
      ? { consentToToShareInfoWithOthers: true, consentToContact: true, consentToShareReferralWithMicrosoftSellers: true }
      : { consentToShareInfoWithOthers: random.chance(0.8), consentToContact: true, consentToShareReferralWithMicrosoftSellers: true },
    details: {
      notes: `${contact.firstName} (${contact.title}) ${workload.note}.`,
      // The documented examples send dealValue as a string; real payloads vary.
      dealValue: random.chance(0.5) ? String(value) : value,
      currency,
      closingDateTime: new Date(createdAt.getTime() + random.int(30, 120) * DAY_MS).toISOString(),
      requirements: {
        industries: [customerIndustry(random, customer)],
        products: [workload.product],
        services: [],
        solutions: [{ id: `sol-${random.int(1000, 9999)}`, name: workload.solution, type: "Solution" }],
      },
      substages: [
        { name: JOINT_PLANNING.qualify, status: qualifyDone ? "Complete" : "NotStarted", ...(qualifyDone ? { completedDateTime: stamp } : {}) },
        { name: JOINT_PLANNING.evaluate, status: evaluateDone ? "Complete" : "NotStarted", ...(evaluateDone ? { completedDateTime: stamp } : {}) },
      ],
    },
    inviteContext: {
      notes: `From ${seller.firstName} ${seller.lastName}: ${workload.note}.`,
      invitedBy: { organizationId: "msft", organizationName: "Microsoft" },
      assistanceRequestCode: "GeneralOrOther",
      sender: seller,
    },
    team: accepted ? [partnerSeller] : taggedSellers(id),
    target: [],
    trackingInfo: { microsoftMsxId: `7-${random.int(10000000, 99999999)}` },
  } as WireReferral;
}
