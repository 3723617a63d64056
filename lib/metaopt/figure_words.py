"""The words of the book's figures in the Korean edition, exactly as each figure draws them.

:func:`metaopt.plotting.korean_twin` redraws a figure with these words (its symbols and
formulas, ``$...$``, are kept) and glues the picture for the Korean edition. A figure text
with an English word and no entry here is refused, so a new label cannot stay English there.
The terms are the Korean edition's (its glossary, ``locales/ko/LC_MESSAGES/glossary.po``).
Names of code, packages and pages stay as they are.
"""

__all__ = ["KOREAN"]

#: English figure text -> Korean.
KOREAN: dict[str, str] = {
    # chapter 2
    r"minimum $\theta^*$": r"최솟점 $\theta^*$",
    # chapter 3
    "assumed gradient": "가정된 그래디언트",
    "assumed gradient helps": "가정된 그래디언트가 도움이 됨",
    "before the update": "업데이트 전",
    r"document's $\eta$": r"문서의 $\eta$",
    "larger steps, log scale": "더 큰 스텝, 로그 눈금",
    r"meta step size $\eta$": r"메타 학습률 $\eta$",
    r"meta-loss $L(\theta_2)$ after the update": r"업데이트 후의 메타 손실 $L(\theta_2)$",
    "small steps": "작은 스텝",
    "true gradient": "참 그래디언트",
    "true gradient helps": "참 그래디언트가 도움이 됨",
    # chapter 4
    r"meta-iteration $k$": r"메타 반복 $k$",
    r"meta-loss $L(\theta_2)$": r"메타 손실 $L(\theta_2)$",
    r"gradient descent, $\alpha$ of $\phi_{old}$": r"경사 하강법, $\phi_{old}$의 $\alpha$",
    r"inner step $t$": r"내부 스텝 $t$",
    r"learned $\phi$": r"학습된 $\phi$",
    "meta-training horizon T = 2": "메타 훈련 지평 T = 2",
    # chapter 5
    r"dead beat $(\frac{1}{2}, 0)$": r"데드비트 $(\frac{1}{2}, 0)$",
    r"momentum $\beta = \phi_2$": r"모멘텀 $\beta = \phi_2$",
    "one step along the assumed gradient": "가정된 그래디언트를 따른 한 스텝",
    "real / complex eigenvalues": "실수 / 복소 고윳값",
    r"spectral radius $\rho(M)$ where $< 1$": r"스펙트럼 반지름 $\rho(M)$ ($< 1$인 곳)",
    r"step size $\alpha = -\phi_1\phi_3$": r"스텝 크기 $\alpha = -\phi_1\phi_3$",
    r"zero meta-loss, $\beta = (1 - 2\alpha)^2 / 2\alpha$": r"메타 손실 0, $\beta = (1 - 2\alpha)^2 / 2\alpha$",
    # chapter 6
    "exact meta-loss": "정확한 메타 손실",
    "quadratic model": "2차 모델",
    "Adam, eta = 0.001": "아담, eta = 0.001",
    "Adam, eta = 0.01": "아담, eta = 0.01",
    "Adam, eta = 0.1": "아담, eta = 0.1",
    "gradient descent, eta = 0.001": "경사 하강법, eta = 0.001",
    "exact, Adam 0.01": "정확한 메타 그래디언트, 아담 0.01",
    "exact, gradient descent": "정확한 메타 그래디언트, 경사 하강법",
    "first order, Adam 0.01": "1차 메타 그래디언트, 아담 0.01",
    "first order, gradient descent": "1차 메타 그래디언트, 경사 하강법",
    # chapter 7
    r"horizon $T$ (inner steps)": r"지평 $T$ (내부 스텝 수)",
    r"truncation length $k$": r"절단 길이 $k$",
    r"learned at $T = 2$ from $\phi_{heavy}$": r"$\phi_{heavy}$에서 $T = 2$로 학습됨",
    r"$\phi_1$ (with $\phi_2 = 0.5$, $\phi_3 = -1$)": r"$\phi_1$ ($\phi_2 = 0.5$, $\phi_3 = -1$일 때)",
    "meta-loss": "메타 손실",
    # chapter 8
    r"mean meta-loss $\bar{\mathcal{L}}(\phi^{(k)})$": r"평균 메타 손실 $\bar{\mathcal{L}}(\phi^{(k)})$",
    "mean meta-loss, training tasks": "평균 메타 손실, 훈련 과제",
    "learned": "학습된 최적화 모델",
    r"mean $L(\theta_t)$, held-out tasks": r"평균 $L(\theta_t)$, 홀드아웃 과제",
    "momentum": "모멘텀",
    r"$\sum_{t=1}^{20} L(\theta_t) \,/\, L(\theta_0)$, all tasks": r"$\sum_{t=1}^{20} L(\theta_t) \,/\, L(\theta_0)$, 모든 과제",
    r"curvature $c$ of the task $L(\theta) = c(\theta - \theta^*)^2$": r"과제 $L(\theta) = c(\theta - \theta^*)^2$의 곡률 $c$",
    "training range": "훈련 범위",
    # chapter 9
    "forward mode: 3 passes, one per component": "순방향 모드: 성분마다 한 번씩 3번의 패스",
    "forward pass (the meta-loss)": "순방향 패스 (메타 손실)",
    r"horizon $T$": r"지평 $T$",
    "lines of the traced program": "추적된 프로그램의 줄 수",
    "reverse mode with lax.scan: the program": "lax.scan을 쓴 역방향 모드: 프로그램",
    "reverse mode: all 3 components": "역방향 모드: 세 성분 모두",
    # chapter 10
    "LSTM, training batch": "LSTM, 훈련 배치",
    "LSTM, validation": "LSTM, 검증",
    r"epoch $e$": r"에폭 $e$",
    "linear RNN, training batch": "선형 RNN, 훈련 배치",
    "linear RNN, validation": "선형 RNN, 검증",
    r"meta-loss $\sum_t f(\theta_t)$, batch mean": r"메타 손실 $\sum_t f(\theta_t)$, 배치 평균",
    "LSTM (learned)": "LSTM (학습됨)",
    "linear RNN (learned)": "선형 RNN (학습됨)",
    r"step $t$": r"스텝 $t$",
    "Adam (tuned on 100 steps)": "아담 (100 스텝에서 튜닝됨)",
    "LSTM (learned on 100 steps)": "LSTM (100 스텝에서 학습됨)",
    # chapter 11
    "LSTM, the epoch's network": "LSTM, 그 에폭의 신경망",
    "LSTM, validation networks (mean)": "LSTM, 검증 신경망 (평균)",
    r"meta-loss $\sum_t f_t(\theta_t)$": r"메타 손실 $\sum_t f_t(\theta_t)$",
    # the Performance appendix
    r"inner steps $T$": r"내부 스텝 수 $T$",
    "naive: sympy.expand after every step": "단순한 방식: 스텝마다 sympy.expand",
    "seconds (log scale)": "초 (로그 눈금)",
    "symbolic.meta_gradient (sparse polynomials)": "symbolic.meta_gradient (희소 다항식)",
    r"4096 values of $\phi$ at once": r"$\phi$ 값 4096개를 한꺼번에",
    "JAX, jit": "JAX, jit",
    "JAX, jit + vmap": "JAX, jit + vmap",
    "metaopt": "metaopt",
    r"one $\phi$": r"$\phi$ 하나",
    "plain Python floor": "순수 Python 하한",
    "MiB downloaded on a first visit": "첫 방문에 내려받는 MiB",
    "explorables: plotly.js and their scripts": "인터랙티브 그림: plotly.js와 그 스크립트",
    "its figures": "그 페이지의 그림",
    "the book's own CSS": "이 책의 CSS",
    "the page (HTML)": "페이지 (HTML)",
    "theme and extensions: scripts, styles, fonts": "테마와 확장: 스크립트, 스타일, 글꼴",
    # the pages, by their names (the same in both editions)
    **{page: page for page in (
        "appendix/course_guide", "appendix/performance", "chapters/01_setup", "chapters/02_inner_loop",
        "chapters/03_outer_loop", "chapters/04_summary", "chapters/05_momentum",
        "chapters/06_meta_step_size", "chapters/07_long_horizons", "chapters/08_across_tasks",
        "chapters/09_autodiff", "chapters/10_lstm_optimizer", "chapters/11_digits", "glossary", "intro",
        "references")},
}
