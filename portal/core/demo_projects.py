"""The demo's organisations and proposals: a batch like the scheme's real one (domain brief §1, §2). Titles are
made up; the universities and public bodies are real Hong Kong institutions, the companies are invented."""

from dataclasses import dataclass

from portal.accounts.enums import OrganisationType
from portal.proposals.enums import ProposalState as S

HKU = "University of Hong Kong"
CUHK = "Chinese University of Hong Kong"
HKUST = "Hong Kong University of Science and Technology"
POLYU = "Hong Kong Polytechnic University"
CITYU = "City University of Hong Kong"
HKBU = "Hong Kong Baptist University"
HKGAI = "Hong Kong Centre for Generative AI R&D"
LSCM = "Logistics and Supply Chain MultiTech R&D Centre"
ASTRI = "Hong Kong Applied Science and Technology Research Institute"
HARBOUR = "Harbour Vision AI Limited"
LION_ROCK = "Lion Rock Robotics Limited"
PEAK = "Victoria Peak Fintech Limited"
KOWLOON_HEALTH = "Kowloon Health Analytics Limited"
DPO = "Digital Policy Office"

ORGANISATIONS = [
    (HKU, "香港大學", OrganisationType.UNIVERSITY, ""),
    (CUHK, "香港中文大學", OrganisationType.UNIVERSITY, ""),
    (HKUST, "香港科技大學", OrganisationType.UNIVERSITY, ""),
    (POLYU, "香港理工大學", OrganisationType.UNIVERSITY, ""),
    (CITYU, "香港城市大學", OrganisationType.UNIVERSITY, ""),
    (HKBU, "香港浸會大學", OrganisationType.UNIVERSITY, ""),
    (HKGAI, "香港生成式人工智能研發中心", OrganisationType.RND_CENTRE, ""),
    (LSCM, "物流及供應鏈多元技術研發中心", OrganisationType.RND_CENTRE, ""),
    (ASTRI, "香港應用科技研究院", OrganisationType.RND_CENTRE, ""),
    (HARBOUR, "海港視覺人工智能有限公司", OrganisationType.ENTERPRISE, "61234567"),
    (LION_ROCK, "獅子山機械人有限公司", OrganisationType.ENTERPRISE, "70012345"),
    (PEAK, "", OrganisationType.ENTERPRISE, "71234568"),
    (KOWLOON_HEALTH, "九龍健康數據分析有限公司", OrganisationType.ENTERPRISE, "72345679"),
    (DPO, "數字政策辦公室", OrganisationType.GOVERNMENT, ""),
]


@dataclass(frozen=True)
class DemoProject:
    title: str
    title_zh: str  # empty where an applicant would give none
    organisation: str
    hours: int  # GPU-hours requested in each quarter of the call
    min_share: int  # per cent
    state: str
    account_code: str = ""


# Last year's batch, decided and allocated: ten approved projects share 1,170,000 GPU-hours a quarter, 90% of the
# centre's 1,300,000 (the rest is held back), so the centre is about 90% booked.
BATCH_ONE = [
    DemoProject(
        "Multilingual speech recognition for Hong Kong", "香港多語言語音識別", HKGAI, 150_000, 50, S.ACTIVE, "aiss-0007"
    ),
    DemoProject("Financial document understanding", "金融文件理解", HARBOUR, 140_000, 50, S.ACTIVE, "aiss-0012"),
    DemoProject("Cantonese-English legal translation model", "粵英法律翻譯模型", CUHK, 130_000, 40, S.ACTIVE),
    DemoProject("Protein structure model for drug discovery", "藥物研發用蛋白質結構模型", HKU, 120_000, 60, S.ACTIVE),
    DemoProject("Urban heat and air-quality forecasting", "城市熱島及空氣質素預測", POLYU, 120_000, 50, S.ALLOCATED),
    DemoProject("Container flow optimisation at Kwai Tsing", "葵青貨櫃流量優化", LSCM, 110_000, 50, S.ALLOCATED),
    DemoProject(
        "Chest X-ray triage for public hospitals", "公立醫院胸肺X光分流", KOWLOON_HEALTH, 110_000, 70, S.ALLOCATED
    ),
    DemoProject("Chip design verification with language models", "", ASTRI, 100_000, 50, S.ALLOCATED),
    DemoProject("Chinese reading tutor for primary schools", "小學中文閱讀輔導模型", HKBU, 100_000, 40, S.ALLOCATED),
    DemoProject("Autonomous tunnel inspection robots", "隧道自動巡檢機械人", LION_ROCK, 90_000, 60, S.ALLOCATED),
    DemoProject("Retail investor sentiment tracker", "", PEAK, 60_000, 50, S.REJECTED),
    DemoProject("General-purpose chatbot fine-tuning", "通用聊天機械人微調", CITYU, 80_000, 50, S.REJECTED),
    DemoProject("Short-term stock price prediction", "", PEAK, 40_000, 50, S.INELIGIBLE),
    DemoProject("Warehouse robot control policies", "倉庫機械人控制策略", LION_ROCK, 40_000, 70, S.WITHDRAWN),
]

# This year's open batch, in every state of its life so far.
OPEN_BATCH = [
    DemoProject("Cantonese large language model", "粵語大型語言模型", HKU, 120_000, 50, S.REVIEWED),
    DemoProject("Medical imaging foundation model", "醫學影像基礎模型", CUHK, 200_000, 60, S.SCREENING),
    DemoProject("Port logistics forecasting", "港口物流預測", LSCM, 60_000, 40, S.IN_REVIEW),
    DemoProject("Traffic video analytics", "交通影像分析", HARBOUR, 80_000, 50, S.RECOMMENDED),
    DemoProject("Legal document assistant in Chinese", "中文法律文件助理", HKUST, 150_000, 30, S.APPROVED),
    DemoProject(
        "Government enquiries assistant in three languages",
        "政府查詢三語助理",
        DPO,
        70_000,
        50,
        S.CLARIFICATION_REQUESTED,
    ),
    DemoProject("Typhoon track ensemble forecasting", "颱風路徑集合預報", CITYU, 90_000, 50, S.SUBMITTED),
    DemoProject("Fall detection for elderly homes", "安老院舍跌倒偵測", KOWLOON_HEALTH, 50_000, 60, S.SUBMITTED),
    DemoProject("Materials discovery with graph networks", "以圖神經網絡發現新材料", POLYU, 100_000, 50, S.IN_REVIEW),
]
