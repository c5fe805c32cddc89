"""Reading plans: windows, blocks and the way back (:mod:`ner.encoding.reading`)."""


def test_pack_windows_keeps_documents_apart_and_long_sentences_whole() -> None:
    from ner.encoding.reading import pack_windows

    a, b, long = ["a"] * 3, ["b"] * 4, ["c"] * 9
    windows, places = pack_windows([[a, b, long, a], [b], []], 8)
    assert windows == [a + b, long, a, b]
    assert places == [[(0, 0, 0, 3), (0, 1, 3, 4)], [(0, 2, 0, 9)], [(0, 3, 0, 3)], [(1, 0, 0, 4)]]


def test_a_plan_goes_back_to_each_documents_sentences() -> None:
    from ner.encoding.reading import ReadingPlan
    from ner.text.results import Entity, Prediction

    documents = [[["A", "b"], ["C"]], [["D", "e", "f"]]]
    alone = ReadingPlan.of(documents, context=0, memory=0, scheme="iob2")
    assert alone.units == [["A", "b"], ["C"], ["D", "e", "f"]] and alone.groups is None
    memory = ReadingPlan.of(documents, context=0, memory=512, scheme="iob2")
    assert memory.units == alone.units and memory.groups == [0, 0, 1]  # a block per document
    windows = ReadingPlan.of(documents, context=8, memory=0, scheme="iob2")
    assert windows.units == [["A", "b", "C"], ["D", "e", "f"]] and windows.windows
    # an entity on "C" (window position 2) comes back to sentence 1 of document 0, at position 0
    read = [Prediction(["O", "O", "B-X"], [Entity(2, 3, "X", 0.9)]), Prediction(["O"] * 3, [])]
    back = windows.regroup(read)
    assert [[p.tags for p in d] for d in back] == [[["O", "O"], ["B-X"]], [["O", "O", "O"]]]
    assert back[0][1].entities == [Entity(0, 1, "X", 0.9)]
