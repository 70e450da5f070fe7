// Made-up Aadhaar numbers are demo data too (the command line's seed registers them):
// they live in libs/dev-operator, and tests keep importing them from here.
export { MADE_UP_AADHAAR_COUNT, madeUpAadhaar, randomMadeUpAadhaar } from '@vaxguard/dev-operator';
