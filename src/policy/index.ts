/**
 * The policy module (SPEC §5), pure: the model and its validation, compiled evaluation, the
 * plain-language sentence and the templates. The proxy, the API's policy test and simulation all
 * go through these same functions, so the playground cannot disagree with enforcement.
 */
export {
  ACTION_TYPES, DLP_CATEGORIES, FIELD_OPERATORS, POLICY_ACTIONS, RISK_LEVELS, parseCondition, parsePolicy, stageOf,
  type Condition, type ConditionField, type FindingDirection, type PolicyAction, type PolicyDefinition, type PolicyStage, type RiskLevel,
} from './schema.js';
export {
  EMPTY_POLICIES, compilePolicies, evaluate, globToRegex, policyOrder,
  type CompiledPolicy, type Evaluation, type PolicyInput, type PolicySet, type StoredPolicy,
} from './evaluate.js';
export { DLP_CATEGORY_NAMES, DLP_CLASS_NAMES, dlpClassName, summarize, type SummaryNames } from './summary.js';
export {
  TEMPLATES, blockPii, costControl, custom, flagHighRiskResponses, requestSizeLimit, restrictProvider, templateById,
  type BlockPiiOptions, type CommonOptions, type CostControlOptions, type FlagHighRiskResponsesOptions, type PolicyTemplate,
  type ActionTypeName, type DlpCategoryName, type LimitScopeName, type LimitWindowName,
  type RequestSizeLimitOptions, type RestrictProviderOptions, type SuggestedLimit, type TemplateParameter, type TemplateResult,
} from './templates.js';
